"""The `vsrtn` command."""
from __future__ import annotations

import argparse
import sys

from vsrtn.errors import VsrtnError


def _cmd_doctor(args: argparse.Namespace) -> int:
    from vsrtn import doctor

    return doctor.run()


def _cmd_convert(args: argparse.Namespace) -> int:
    from vsrtn import weights

    entry = weights.convert_published(args.input, args.output, name=args.name, manifest=args.manifest)
    print(f"wrote {entry.path} (sha256 {entry.sha256})")
    if args.manifest:
        print(f"manifest entry '{entry.name}' written to {args.manifest}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsrtn", description="Old-film restoration with RTN.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the installation")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("convert", help="convert a published RTN checkpoint (net_G_*.pth[.gz]) to vsrtn weights")
    p.add_argument("input", help="published checkpoint: {'netG': state_dict}, plain or .gz")
    p.add_argument("output", help="output .safetensors file")
    p.add_argument("--name", default=None, help="name of the weights (default: output file stem)")
    p.add_argument("--manifest", default=None, help="manifest.json to add a sha256 entry to")
    p.set_defaults(func=_cmd_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except VsrtnError as exc:
        print(f"vsrtn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vsrtn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
