/** Running a module as a command: its exit status, and one `error:` line for a failure. */
import { errorMessage } from '../util/text';

/** Runs `main` and sets the process's exit status from it; an error is printed as one line, status 1. */
export function runCommand(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`error: ${errorMessage(error)}`);
      process.exitCode = 1;
    },
  );
}
