#!/usr/bin/env python3
"""LLaVA-ST Serve from Python: upload a video (skipped when the server already has its sha256),
stream one answer with its coordinates, then a session of three questions on the same video.

    python3 client.py --target 127.0.0.1:50051 --video clip.mp4 --question "When does the dog jump?"

Stubs come from gen_stubs.sh (generated from the .proto files of this repository).
"""
import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from llavast.v1 import common_pb2, generation_pb2, generation_pb2_grpc  # noqa: E402
from llavast.v1 import media_pb2, media_pb2_grpc  # noqa: E402
from llavast.v1 import session_pb2, session_pb2_grpc  # noqa: E402

CHUNK = 1 << 20
MEDIA_HEADER = "x-media-id"  # lets an L7 proxy route questions about one video to one pod


def media_id(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def upload(channel, path):
    """Uploads the file unless the server has it; returns its media id."""
    mid = media_id(path)
    media = media_pb2_grpc.MediaServiceStub(channel)
    try:
        info = media.GetMedia(media_pb2.GetMediaRequest(media_id=mid), timeout=30)
        print(f"{path}: already on the server as {mid} ({info.frame_count} frames)", file=sys.stderr)
        return mid
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.NOT_FOUND:
            raise

    def chunks():
        yield media_pb2.UploadMediaRequest(header=media_pb2.UploadHeader(
            kind=media_pb2.MEDIA_KIND_VIDEO, label=os.path.basename(path),
            expected_size_bytes=os.path.getsize(path)))
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                yield media_pb2.UploadMediaRequest(chunk=block)

    info = media.UploadMedia(chunks(), timeout=600)
    print(f"{path}: uploaded as {info.media_id} ({info.duration_seconds:.2f} s, {info.frame_count} frames)",
          file=sys.stderr)
    return info.media_id


def describe(c):
    """One coordinate in seconds and pixels."""
    kind = c.WhichOneof("value")
    if kind == "timestamp":
        return f"time {c.timestamp.seconds:.2f}s"
    if kind == "span":
        return f"span {c.span.start.seconds:.2f}s-{c.span.end.seconds:.2f}s"
    if kind == "box":
        b = c.box
        return f"box [{b.x1.px:.0f},{b.y1.px:.0f},{b.x2.px:.0f},{b.y2.px:.0f}]px"
    if kind == "timed_box":
        t, b = c.timed_box.time, c.timed_box.box
        return f"{t.seconds:.2f}s: [{b.x1.px:.0f},{b.y1.px:.0f},{b.x2.px:.0f},{b.y2.px:.0f}]px"
    return kind


def print_stream(responses):
    """Prints the text as it arrives, then every coordinate; returns the final message."""
    final = None
    for r in responses:
        if r.WhichOneof("event") == "delta":
            sys.stdout.write(r.delta.text)
            sys.stdout.flush()
        else:
            final = r.final
    print()
    for c in final.coordinates:
        print("  " + describe(c))
    print(f"[{common_pb2.FinishReason.Name(final.finish_reason)}, {final.usage.generated_tokens} tokens, "
          f"ttft {final.timings.time_to_first_token_seconds:.2f}s, cache hit {final.usage.feature_cache_hit}]")
    return final


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default=os.environ.get("LLAVAST_TARGET", "127.0.0.1:50051"))
    p.add_argument("--video", required=True)
    p.add_argument("--question", required=True)
    p.add_argument("--max-new-tokens", type=int, default=64)
    args = p.parse_args()

    with grpc.insecure_channel(args.target, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        mid = upload(channel, args.video)
        routing = [(MEDIA_HEADER, mid)]
        generation = generation_pb2_grpc.GenerationServiceStub(channel)
        print(f"Q: {args.question}")
        print_stream(generation.GenerateStream(generation_pb2.GenerateRequest(
            media=common_pb2.MediaRef(media_id=mid),
            prompt=generation_pb2.Prompt(text=args.question),
            sampling=generation_pb2.SamplingParams(max_new_tokens=args.max_new_tokens)),
            metadata=routing, timeout=600))

        sessions = session_pb2_grpc.SessionServiceStub(channel)
        s = sessions.CreateSession(session_pb2.CreateSessionRequest(media=common_pb2.MediaRef(media_id=mid)),
                                   metadata=routing, timeout=600)
        try:
            for q in ["What happens first?", "And then?", "Where is it at the end?"]:
                print(f"Q ({s.session_id}): {q}")
                print_stream(sessions.Ask(session_pb2.AskRequest(
                    session_id=s.session_id, prompt=generation_pb2.Prompt(text=q),
                    sampling=generation_pb2.SamplingParams(max_new_tokens=args.max_new_tokens)),
                    metadata=routing, timeout=600))
        finally:
            sessions.CloseSession(session_pb2.CloseSessionRequest(session_id=s.session_id), timeout=30)


if __name__ == "__main__":
    main()
