#!/usr/bin/env python3
"""Two weft replicas editing one document concurrently, from Python.

Uses only the standard library: ctypes loads libweft.so (the C API in
capi/include/weft.h). Each replica edits on its own, including at the same
position, then they exchange Updates both ways (version -> encode_since ->
apply) and must end with the same text. An observer on one replica keeps an
editor-style copy of the text current from the change deltas.

    python3 demo/weft_example.py --lib build/release/capi/libweft.so
    WEFT_LIB=/usr/local/lib/libweft.so python3 demo/weft_example.py

Exits 0 when the replicas converged.
"""

import argparse
import ctypes
import os
import sys

WEFT_OK = 0
WEFT_OUT_OF_RANGE = 2
WEFT_BIAS_LEFT = 0
WEFT_BIAS_RIGHT = 1
WEFT_STEP_RETAIN = 0
WEFT_STEP_INSERT = 1
WEFT_STEP_DELETE = 2
ABI_VERSION = 1  # WEFT_ABI_VERSION this program was written against


class WeftError(Exception):
    pass


class Anchor(ctypes.Structure):
    _fields_ = [("agent", ctypes.c_uint64), ("seq", ctypes.c_uint64),
                ("has_id", ctypes.c_uint32), ("bias", ctypes.c_uint32)]


class DeltaStep(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                ("count", ctypes.c_uint64), ("text", ctypes.c_void_p),
                ("text_len", ctypes.c_size_t)]


OBSERVER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(DeltaStep),
                            ctypes.c_size_t)


def load_library(path):
    lib = ctypes.CDLL(path)
    u8p = ctypes.POINTER(ctypes.c_uint8)
    doc = ctypes.c_void_p
    signatures = {
        "weft_abi_version": (ctypes.c_uint32, []),
        "weft_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "weft_last_error": (ctypes.c_char_p, []),
        "weft_free": (None, [ctypes.c_void_p]),
        "weft_doc_new": (ctypes.c_int, [ctypes.c_uint64, ctypes.POINTER(doc)]),
        "weft_doc_free": (None, [doc]),
        "weft_doc_insert": (ctypes.c_int, [doc, ctypes.c_uint64, ctypes.c_char_p,
                                           ctypes.c_size_t]),
        "weft_doc_delete": (ctypes.c_int, [doc, ctypes.c_uint64, ctypes.c_uint64]),
        "weft_doc_len": (ctypes.c_int, [doc, ctypes.POINTER(ctypes.c_uint64)]),
        "weft_doc_text": (ctypes.c_int, [doc, ctypes.POINTER(ctypes.c_void_p),
                                         ctypes.POINTER(ctypes.c_size_t)]),
        "weft_doc_version": (ctypes.c_int, [doc, ctypes.POINTER(ctypes.c_void_p),
                                            ctypes.POINTER(ctypes.c_size_t)]),
        "weft_doc_encode_since": (ctypes.c_int, [doc, u8p, ctypes.c_size_t,
                                                 ctypes.POINTER(ctypes.c_void_p),
                                                 ctypes.POINTER(ctypes.c_size_t)]),
        "weft_doc_apply": (ctypes.c_int, [doc, u8p, ctypes.c_size_t]),
        "weft_doc_set_observer": (ctypes.c_int, [doc, OBSERVER, ctypes.c_void_p]),
        "weft_doc_anchor": (ctypes.c_int, [doc, ctypes.c_uint64, ctypes.c_uint32,
                                           ctypes.POINTER(Anchor)]),
        "weft_doc_resolve": (ctypes.c_int, [doc, ctypes.POINTER(Anchor),
                                            ctypes.POINTER(ctypes.c_uint64)]),
        "weft_doc_undo": (ctypes.c_int, [doc]),
        "weft_doc_utf16_from_pos": (ctypes.c_int, [doc, ctypes.c_uint64,
                                                   ctypes.POINTER(ctypes.c_uint64)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    if lib.weft_abi_version() != ABI_VERSION:
        raise WeftError("libweft ABI %d, expected %d" % (lib.weft_abi_version(), ABI_VERSION))
    return lib


class Replica:
    """One weft_doc. Positions are code points, text is str."""

    def __init__(self, lib, agent):
        self.lib = lib
        self.doc = ctypes.c_void_p()
        self._check(lib.weft_doc_new(agent, ctypes.byref(self.doc)), "weft_doc_new")
        self._observer = None  # keeps the ctypes callback alive

    def close(self):
        if self.doc:
            self.lib.weft_doc_free(self.doc)
            self.doc = ctypes.c_void_p()

    def _check(self, status, what):
        if status != WEFT_OK:
            raise WeftError("%s: %s (%s)" % (what, self.lib.weft_strerror(status).decode(),
                                             self.lib.weft_last_error().decode()))

    def _take(self, fn, *args):
        buf, size = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(fn(self.doc, *args, ctypes.byref(buf), ctypes.byref(size)), fn.__name__)
        try:
            return ctypes.string_at(buf, size.value) if size.value else b""
        finally:
            self.lib.weft_free(buf)

    def insert(self, pos, text):
        data = text.encode("utf-8")
        self._check(self.lib.weft_doc_insert(self.doc, pos, data, len(data)), "insert")

    def delete(self, pos, count):
        self._check(self.lib.weft_doc_delete(self.doc, pos, count), "delete")

    def undo(self):
        self._check(self.lib.weft_doc_undo(self.doc), "undo")

    def __len__(self):
        n = ctypes.c_uint64()
        self._check(self.lib.weft_doc_len(self.doc, ctypes.byref(n)), "len")
        return n.value

    def text(self):
        return self._take(self.lib.weft_doc_text).decode("utf-8")

    def version(self):
        return self._take(self.lib.weft_doc_version)

    def encode_since(self, version):
        buf = (ctypes.c_uint8 * len(version)).from_buffer_copy(version)
        return self._take(self.lib.weft_doc_encode_since, buf, len(version))

    def apply(self, update):
        buf = (ctypes.c_uint8 * len(update)).from_buffer_copy(update)
        self._check(self.lib.weft_doc_apply(self.doc, buf, len(update)), "apply")

    def anchor(self, pos, bias):
        a = Anchor()
        self._check(self.lib.weft_doc_anchor(self.doc, pos, bias, ctypes.byref(a)), "anchor")
        return a

    def resolve(self, anchor):
        pos = ctypes.c_uint64()
        self._check(self.lib.weft_doc_resolve(self.doc, ctypes.byref(anchor),
                                              ctypes.byref(pos)), "resolve")
        return pos.value

    def utf16_offset(self, pos):
        out = ctypes.c_uint64()
        self._check(self.lib.weft_doc_utf16_from_pos(self.doc, pos, ctypes.byref(out)),
                    "utf16_from_pos")
        return out.value

    def observe(self, callback):
        """callback(steps): steps is a list of ("retain"|"insert"|"delete", n, text)."""
        def trampoline(_user, steps, n_steps):
            out = []
            for i in range(n_steps):
                s = steps[i]
                if s.kind == WEFT_STEP_INSERT:
                    text = ctypes.string_at(s.text, s.text_len).decode("utf-8")
                    out.append(("insert", s.count, text))
                else:
                    kind = "retain" if s.kind == WEFT_STEP_RETAIN else "delete"
                    out.append((kind, s.count, ""))
            callback(out)
        self._observer = OBSERVER(trampoline)
        self._check(self.lib.weft_doc_set_observer(self.doc, self._observer, None), "observe")


def check(condition, message):
    if not condition:
        raise WeftError(message)


def deliver(src, dst):
    """Brings dst up to date with src: dst's version out, the missing ops back."""
    dst.apply(src.encode_since(dst.version()))


class ShadowEditor:
    """An editor's own buffer (a Python str), kept current by the deltas."""

    def __init__(self, text):
        self.text = text

    def on_change(self, steps):
        pos = 0
        for kind, count, text in steps:
            if kind == "retain":
                pos += count
            elif kind == "insert":
                self.text = self.text[:pos] + text + self.text[pos:]
                pos += count
            else:
                self.text = self.text[:pos] + self.text[pos + count:]


def run(lib):
    alice, bob = Replica(lib, 0xA11CE), Replica(lib, 0xB0B)
    try:
        alice.insert(0, "Hello world")
        deliver(alice, bob)

        editor = ShadowEditor(bob.text())
        bob.observe(editor.on_change)
        # Bob's caret sits before "world" and must stay there.
        caret = bob.anchor(6, WEFT_BIAS_RIGHT)

        # Concurrent edits: both type at position 5, Alice also deletes and
        # appends, Bob types an emoji (one code point, two UTF-16 units).
        alice.insert(5, ", dear")
        bob.insert(5, " 🌍")
        alice.delete(0, 1)
        alice.insert(0, "h")
        alice.insert(len(alice), "!")
        bob.insert(0, "¡")
        editor.text = bob.text()  # Bob's own edits are in his buffer already

        deliver(alice, bob)
        deliver(bob, alice)
        a, b = alice.text(), bob.text()
        print("alice:", a)
        print("bob:  ", b)
        check(a == b, "replicas diverged: %r != %r" % (a, b))
        check(alice.version() == bob.version(), "versions differ")
        check(editor.text == b, "observer deltas gave %r, not %r" % (editor.text, b))
        # Either Alice's or Bob's run comes first at position 5, never mixed.
        check(", dear 🌍" in a or " 🌍, dear" in a, "runs interleaved: %r" % a)
        check(b[bob.resolve(caret):].startswith("world"), "caret moved off its character")

        # Alice undoes her last edit (the "!"); Bob sees it through sync.
        alice.undo()
        deliver(alice, bob)
        check(alice.text() == bob.text() == editor.text == a[:-1],
              "after undo: %r / %r / %r" % (alice.text(), bob.text(), editor.text))
        # JavaScript, Java and Windows count the emoji as two UTF-16 units.
        dear_at = bob.text().index("dear")
        print("'dear' at code point %d, UTF-16 offset %d"
              % (dear_at, bob.utf16_offset(dear_at)))
        check(bob.utf16_offset(dear_at) == dear_at + 1, "UTF-16 offset")
        print("converged:", bob.text())
    finally:
        alice.close()
        bob.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", default=os.environ.get("WEFT_LIB"),
                        help="path to libweft.so (default: $WEFT_LIB)")
    args = parser.parse_args()
    if not args.lib:
        parser.error("give --lib PATH or set WEFT_LIB to the path of libweft.so")
    run(load_library(args.lib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
