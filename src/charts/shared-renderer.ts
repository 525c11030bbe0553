/**
 * One headless browser shared by renders that come one by one (notebook cells), closed after a
 * quiet period.
 */
import { withRenderer, type Renderer, type RendererOptions } from './chromium';

/** A browser kept between uses and closed after a quiet period. */
export interface SharedRenderer {
  /** Runs `job` with the shared browser, starting it when needed. */
  use<T>(job: (renderer: Renderer) => Promise<T>): Promise<T>;
  /** Closes the browser now (a later `use` starts a new one). */
  close(): Promise<void>;
}

export interface SharedRendererOptions extends RendererOptions {
  /** Close the browser after this many ms without use; 0 closes it after every use. Default 15,000. */
  idleMs?: number;
}

/**
 * One browser for renders that come one by one (notebook cells): starting Chromium and loading
 * plotly.js takes seconds, so the browser stays up until `idleMs` pass without a render. The idle
 * timer does not keep the process alive.
 */
export function createSharedRenderer(options: SharedRendererOptions = {}): SharedRenderer {
  const idleMs = options.idleMs ?? 15_000;
  let session: { ready: Promise<Renderer>; release: () => void; closed: Promise<void> } | null = null;
  let timer: NodeJS.Timeout | undefined;
  let busy = 0;

  const start = () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let handOver!: (renderer: Renderer) => void;
    const given = new Promise<Renderer>((resolve) => (handOver = resolve));
    const done = withRenderer(async (renderer) => {
      handOver(renderer);
      await hold;
    }, options);
    const ready = Promise.race([
      given,
      done.then((): never => {
        throw new Error('the chart renderer closed');
      }),
    ]);
    const current = { ready, release, closed: done.catch(() => undefined) };
    session = current;
    return current;
  };

  const close = async () => {
    clearTimeout(timer);
    const current = session;
    session = null;
    if (current === null) return;
    current.release();
    await current.closed;
  };

  const use = async <T>(job: (renderer: Renderer) => Promise<T>): Promise<T> => {
    clearTimeout(timer);
    busy++;
    const current = session ?? start();
    try {
      return await job(await current.ready);
    } catch (error) {
      // A failed start or a crashed browser: begin afresh next time.
      if (session === current) {
        session = null;
        current.release();
      }
      throw error;
    } finally {
      busy--;
      if (busy === 0 && session !== null) {
        if (idleMs <= 0) await close();
        else timer = setTimeout(() => void close(), idleMs).unref();
      }
    }
  };

  return { use, close };
}
