"""Executes one Jupyter notebook headlessly and writes the executed copy.

Usage: /usr/bin/python3 execute_notebook.py NOTEBOOK OUTPUT [--kernel tslab|deno] [--timeout SECONDS]

The notebook runs with its own folder as the working directory, as it does when a person opens
it in Jupyter. The executed copy (with every output) is written to OUTPUT even when a cell
fails, so that the failure can be read there. Exit status: 0 when every cell ran, 1 when a cell
raised an error (the error is printed on stderr), 2 for bad usage or a kernel that could not
be started.
"""
import argparse
import os
import sys
import time
from queue import Empty

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete, CellExecutionError, CellTimeoutError, DeadKernelError
    from nbclient.util import ensure_async
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"error: {error}. Install Debian's python3-nbclient and python3-nbformat "
          "and run this with /usr/bin/python3.", file=sys.stderr)
    sys.exit(2)


class LateOutputClient(NotebookClient):
    """nbclient that also keeps a cell's output sent just after the kernel said it was idle.

    Deno's kernel (2.9.8) forwards console output through a pipe and may send a cell's last lines
    after its idle status (4 cells in 60 on a loaded machine; it waits 5 ms for them), and nbclient
    drops what comes after idle. So after each cell this reads on for `grace` seconds.
    """

    grace = 0.5

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        sent = []
        execute = self.kc.execute

        def remember(*args, **kwargs):
            msg_id = execute(*args, **kwargs)
            sent.append(msg_id)
            return msg_id

        self.kc.execute = remember
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            self.kc.execute = execute
        deadline = time.monotonic() + self.grace
        while sent and time.monotonic() < deadline:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=max(0.01, deadline - time.monotonic())))
            except Empty:
                break
            if msg["parent_header"].get("msg_id") == sent[0] and msg["msg_type"] in (
                    "stream", "display_data", "update_display_data"):
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    pass
        return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--kernel", default="tslab", help="kernel name (default: tslab)")
    parser.add_argument("--timeout", type=int, default=900,
                        help="seconds allowed for each cell (default: 900)")
    parser.add_argument("--startup-timeout", type=int, default=120,
                        help="seconds allowed for the kernel to start (default: 120)")
    args = parser.parse_args(argv)

    notebook_path = os.path.abspath(args.notebook)
    output_path = os.path.abspath(args.output)
    nb = nbformat.read(notebook_path, as_version=4)
    client = (LateOutputClient if args.kernel == "deno" else NotebookClient)(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        startup_timeout=args.startup_timeout,
        resources={"metadata": {"path": os.path.dirname(notebook_path)}},
    )
    started = time.monotonic()
    status = 0
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"error: a cell of {args.notebook} failed:\n{error}", file=sys.stderr)
        status = 1
    except CellTimeoutError as error:
        print(f"error: a cell of {args.notebook} ran longer than {args.timeout} s:\n{error}", file=sys.stderr)
        status = 1
    except DeadKernelError as error:
        print(f"error: the kernel died while running {args.notebook}: {error}", file=sys.stderr)
        status = 1
    except Exception as error:  # kernel not found, could not start, ...
        print(f"error: could not run {args.notebook} with kernel '{args.kernel}': "
              f"{type(error).__name__}: {error}", file=sys.stderr)
        status = 2
    finally:
        os.makedirs(os.path.dirname(output_path), exist_ok=True)
        nbformat.write(nb, output_path)
    seconds = time.monotonic() - started
    print(f"executed {args.notebook} in {seconds:.1f} s -> {args.output}"
          + ("" if status == 0 else " (failed)"))
    return status


if __name__ == "__main__":
    sys.exit(main())
