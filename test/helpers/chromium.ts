/** The Chromium the browser tests use, found as the charts find it. */
import { findChromium } from '../../src/charts/chromium';

/** The path of Chromium, or why the tests that need it are skipped. */
function chromiumOrReason(): string | { skip: string } {
  try {
    return findChromium();
  } catch (error) {
    return { skip: error instanceof Error ? error.message : String(error) };
  }
}

const found = chromiumOrReason();
/** The executable's path ('' when there is none: then `browserSkip` says why). */
export const chromium = typeof found === 'string' ? found : '';
/** For `it(name, { skip: browserSkip }, ...)`: false, or why there is no browser. */
export const browserSkip: false | string = typeof found === 'string' ? false : found.skip;
