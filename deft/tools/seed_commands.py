"""`deft pointcloud ...` and `deft quantum`: thin subcommands over deft.pointcloud and deft.quantum."""

from __future__ import annotations

import argparse
import json

import numpy as np


def cmd_pointcloud(args: argparse.Namespace) -> int:
    from deft.errors import ConfigError
    from deft.pointcloud.predict import predict_video, video_clouds

    if not args.model and not args.clouds:
        raise ConfigError("give --model FOLDER (a reading of the clip), --clouds OUT.npz (its point clouds), or both")
    if args.clouds:
        clouds = video_clouds(args.file)
        np.savez_compressed(args.clouds, clouds=clouds.astype(np.float32))
        if not args.model:
            print(json.dumps({"source": args.file, "clouds": args.clouds, "shape": list(clouds.shape)}))
    if args.model:
        print(json.dumps(predict_video(args.model, args.file)))
    return 0


def cmd_quantum(args: argparse.Namespace) -> int:
    from deft.quantum.compare import compare_encodings
    from deft.quantum.data import motion_set

    train, test = motion_set(args.clips, args.seed), motion_set(args.test_clips, args.seed + 1)
    for report in compare_encodings(train, test, args.qubits):
        print(json.dumps(report.to_dict()))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `pointcloud` and `quantum` on deft's subparsers."""
    p = sub.add_parser("pointcloud", help="per-frame 3D facial point clouds of a clip, and a trained point-cloud "
                       "model's emotion and AUs")
    p.add_argument("file", help="a clip with one face")
    p.add_argument("--model", help="a model folder written by benchmarks/bench_seeds.py --save")
    p.add_argument("--clouds", help="write the (T, N, 3) pose-removed clouds to this .npz")
    p.set_defaults(func=cmd_pointcloud)

    p = sub.add_parser("quantum", help="triplet-trained vs amplitude quantum encoding of deft's motion features "
                       "(positive vs negative synthetic clips; needs deft[quantum])")
    p.add_argument("--clips", type=int, default=80, help="training clips (each analysed by deft: 1-2 s)")
    p.add_argument("--test-clips", type=int, default=40)
    p.add_argument("--qubits", type=int, default=4, help="2**qubits PCA components are encoded")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_quantum)
