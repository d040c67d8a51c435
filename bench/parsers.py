"""The multipart parsers side by side on a FaxOut form: python-multipart's callback parser (what
the endpoint used) against multipart's SansIO PushMultipartParser (what it uses now).

    .venv/bin/python bench/parsers.py [--n 3000] [--attachment 2000]

Each parses the same body (Username, Password, Recipient and one attachment) ``--n`` times in
this process with do-nothing handlers, so the figure is the parsers' own cost per request.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import multipart
from python_multipart.multipart import MultipartParser

BOUNDARY = "----faxoutBench7MA4YWxkTrZu0gW"


def body(attachment: int) -> bytes:
    fields = [
        ("Username", "15559990000"),
        ("Password", "bench-password-1"),
        ("Recipient", "+15551234567|Bob"),
    ]
    out = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
    )
    out += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="Attachment"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    return out + b"%" * attachment + f"\r\n--{BOUNDARY}--\r\n".encode()


def python_multipart(data: bytes) -> None:
    def nothing(*_args: object) -> None:
        return None

    names = ("part_begin", "header_field", "header_value", "header_end", "headers_finished",
             "part_data", "part_end", "end")  # fmt: skip
    parser = MultipartParser(BOUNDARY, {f"on_{n}": nothing for n in names})
    parser.write(data)
    parser.finalize()


def sansio_multipart(data: bytes) -> None:
    parser = multipart.PushMultipartParser(BOUNDARY)
    for _event in parser.parse(data):
        pass
    parser.close()


def per_call(fn: Callable[[bytes], None], data: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn(data)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--attachment", type=int, default=2000, help="attachment bytes")
    args = ap.parse_args()
    data = body(args.attachment)
    rounds = [(per_call(python_multipart, data, args.n), per_call(sansio_multipart, data, args.n))
              for _ in range(3)]  # fmt: skip
    print(f"{len(data)}-byte FaxOut form, {args.n} parses per round")
    print("round  python-multipart µs  multipart µs  ratio")
    for i, (old, new) in enumerate(rounds, 1):
        print(f"{i:5}  {old:19.1f}  {new:12.1f}  {old / new:5.2f}x")


if __name__ == "__main__":
    main()
