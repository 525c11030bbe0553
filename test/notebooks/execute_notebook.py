"""Executes one Jupyter notebook headlessly and writes the executed copy.

Usage: /usr/bin/python3 execute_notebook.py NOTEBOOK OUTPUT [--kernel tslab] [--timeout SECONDS]

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

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"error: {error}. Install Debian's python3-nbclient and python3-nbformat "
          "and run this with /usr/bin/python3.", file=sys.stderr)
    sys.exit(2)


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
    client = NotebookClient(
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
