"""Short, readable names for call stacks in a Markdown table: the first frame that belongs to the
program rather than to the C/C++ runtime, its demangled name without template arguments and
parameter lists (or module+offset when it has no symbol), and its file:line."""

import os
import re

# Frames in these modules or namespaces are the allocator's plumbing, not the code to change.
_RUNTIME_MODULES = re.compile(r"(^|/)(libc\.so|libc-|libstdc\+\+\.so|libgcc_s\.so|ld-linux|ld-musl|libm\.so|"
                              r"libpthread\.so|liballocprof\.so)")
_RUNTIME_FUNCTIONS = re.compile(r"^(std::|__gnu_cxx::|__cxx|operator new|operator delete|malloc$|calloc$|realloc$|"
                                r"free$|__libc_|_dl_|_start$|__cxa_|__gthread|__pthread|start_thread$|clone3?$)")

# Operator tokens keep their <, >, ( and ) from being taken for template arguments or parameters.
_OPERATOR = re.compile(r"\boperator\s*(\(\)|\[\]|<=>|<<=|>>=|<<|>>|<=|>=|->\*|->|<|>|new\[\]|delete\[\]|new|delete|"
                       r"\"\"\s*\w+|[-+*/%^&|~!=,]+|\s[\w:]+)")
_PROTECT = str.maketrans({"<": "\ue000", ">": "\ue001", "(": "\ue002", ")": "\ue003", " ": "\ue004"})
_RESTORE = str.maketrans({"\ue000": "<", "\ue001": ">", "\ue002": "(", "\ue003": ")", "\ue004": " "})
MAX_NAME = 60


def _strip_nested(text, open_ch, close_ch):
    out, depth = [], 0
    for ch in text:
        if ch == open_ch:
            depth += 1
        elif ch == close_ch and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def _protect_operator(m):
    token = m.group(1).strip()
    space = "\ue004" if token[:1].isalpha() else ""  # 'operator new', 'operator bool'
    return "operator" + space + token.translate(_PROTECT)


def short_function(name):
    """'std::vector<int>::_M_realloc_insert<int const&>(iterator, int const&)' -> 'std::vector::_M_realloc_insert'."""
    if not name:
        return ""
    text = name.replace("(anonymous namespace)", "{anon}")
    text = _OPERATOR.sub(_protect_operator, text)
    text = re.sub(r"\s*\[(clone|abi:)[^\]]*\]", "", text)
    text = _strip_nested(_strip_nested(text, "<", ">"), "(", ")")
    text = re.sub(r"\s+(const|volatile|&&|&|noexcept)\s*$", "", text).strip()
    if " " in text:  # a return type before the name
        text = text.rsplit(" ", 1)[1]
    text = text.translate(_RESTORE)
    if len(text) > MAX_NAME:
        parts = text.split("::")
        while len(parts) > 1 and len("…::" + "::".join(parts)) > MAX_NAME:
            parts.pop(0)
        text = "…::" + "::".join(parts)
        if len(text) > MAX_NAME:
            text = text[: MAX_NAME - 1] + "…"
    return text


def frame_name(frame):
    """The short function name, or 'module+0xoffset' when the frame has no symbol."""
    function = frame.get("function") if isinstance(frame.get("function"), str) else ""
    if function:
        return short_function(function)
    module = frame.get("module") if isinstance(frame.get("module"), str) else ""
    offset = frame.get("offset") if isinstance(frame.get("offset"), int) else 0
    return f"{os.path.basename(module) or '?'}+0x{offset:x}"


def frame_where(frame, parts=2):
    """'programs/exits.cc:12' (the last `parts` path components), or '' when unknown."""
    path = frame.get("file") if isinstance(frame.get("file"), str) else ""
    if not path:
        return ""
    short = "/".join(path.split("/")[-parts:])
    line = frame.get("line") if isinstance(frame.get("line"), int) else 0
    return f"{short}:{line}" if line else short


def is_runtime(frame):
    module = frame.get("module") if isinstance(frame.get("module"), str) else ""
    function = frame.get("function") if isinstance(frame.get("function"), str) else ""
    return bool(_RUNTIME_MODULES.search(module)) or bool(function and _RUNTIME_FUNCTIONS.match(function))


def interesting_frame(frames):
    """Index of the first frame (leaf first) outside the runtime; 0 when every frame is the runtime's."""
    for i, f in enumerate(frames):
        if isinstance(f, dict) and not is_runtime(f):
            return i
    return 0


def describe(stack):
    """(function, via, where) for a stack object: `via` is the leaf's name when it differs."""
    frames = [f for f in stack.get("frames", []) if isinstance(f, dict)] if isinstance(stack, dict) else []
    if not frames:
        return "(no stack)", "", ""
    i = interesting_frame(frames)
    name = frame_name(frames[i])
    via = frame_name(frames[0]) if i > 0 else ""
    return name, via if via != name else "", frame_where(frames[i])
