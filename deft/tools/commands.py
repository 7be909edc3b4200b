"""`deft identity ...` and `deft manipulation ...`: thin subcommands over the classical recognizers."""

from __future__ import annotations

import argparse
import dataclasses
import json

from deft.options import given

NOT_SAME_PERSON = 3  # verify's exit code when the check ran and the faces differ (1 is deft's error code)


def _print_json(obj) -> None:
    print(json.dumps(dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj))


def cmd_enrol(args: argparse.Namespace) -> int:
    from deft.tools.identity import Gallery

    with Gallery(args.gallery, create=True) as gallery:
        _print_json(gallery.enrol(args.name, args.files, consent=args.consent, purpose=args.purpose))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from deft.tools.identity import Gallery

    with Gallery(args.gallery) as gallery:
        matches, threshold = gallery.search(args.file, **given(args, k="k")), gallery.threshold
    if args.json:
        _print_json({"matches": [dataclasses.asdict(m) for m in matches], "threshold": threshold})
    elif not matches:
        print("the gallery is empty")
    else:
        print(f"{'name':<30} {'distance':>8}  accepted (<= {threshold:.3f})")
        for m in matches:
            print(f"{m.name:<30} {m.distance:>8.4f}  {'yes' if m.accepted else 'no'}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from deft.tools.identity import Gallery

    with Gallery(args.gallery) as gallery:
        result = gallery.verify(args.name, args.file)
    _print_json(result)
    return 0 if result.same_person else NOT_SAME_PERSON


def cmd_forget(args: argparse.Namespace) -> int:
    from deft.tools.identity import Gallery

    with Gallery(args.gallery) as gallery:
        _print_json(gallery.forget(args.name))
    return 0


def cmd_manipulation(args: argparse.Namespace) -> int:
    from deft.tools.manipulation import check_manipulation

    report = check_manipulation(args.file)
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    p = ("not measured" if report.probability is None
         else f"P(manipulated) {report.probability:.2f}, flagged at {report.threshold:.2f}")
    print(f"{report.source}: {report.verdict} ({p})\n  {report.reason}")
    for flag in report.flags:
        print(f"  {flag.name:<17} {'FLAG' if flag.raised else 'ok':<4} {flag.strength:>6.2f}  {flag.reason}")
    for warning in report.warnings:
        print(f"  warning: {warning}")
    print(f"  validated on: {report.validated_on}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `identity` (enrol, search, verify, forget) and `manipulation` on deft's subparsers."""
    identity = sub.add_parser("identity", help="local face gallery: enrol (with consent), search, verify, forget")
    isub = identity.add_subparsers(dest="identity_command", required=True)

    p = isub.add_parser("enrol", help="add a person's face (images or clips) to the gallery")
    p.add_argument("name")
    p.add_argument("files", nargs="+", help="images or clips of the person, one face each")
    p.add_argument("--gallery", required=True, help="gallery folder (created if missing)")
    p.add_argument("--consent", required=True, help="yes: the person explicitly agreed (recorded with the time and "
                   "--purpose); anything else refuses")
    p.add_argument("--purpose", required=True, help="what the enrolment is for")
    p.set_defaults(func=cmd_enrol)

    p = isub.add_parser("search", help="who is the face in FILE? the k closest enrolled people")
    p.add_argument("file")
    p.add_argument("--gallery", required=True)
    p.add_argument("--k", type=int, help="how many people to list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = isub.add_parser("verify", help=f"is the face in FILE this enrolled person? (exit 0 yes, {NOT_SAME_PERSON} no)")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--gallery", required=True)
    p.set_defaults(func=cmd_verify)

    p = isub.add_parser("forget", help="delete every trace of a person from the gallery")
    p.add_argument("name")
    p.add_argument("--gallery", required=True)
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("manipulation", help="beauty-filter and splice check of a face photo or clip (compression is told apart)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_manipulation)
