"""Short symbol names for the Markdown stack tables."""

import pytest

from allocprof_reports import stacks


@pytest.mark.parametrize("name, short", [
    ("std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, "
     "std::vector<int, std::allocator<int> > >, int const&)", "std::vector::_M_realloc_insert"),
    ("void std::vector<int>::emplace_back<int>(int&&)", "std::vector::emplace_back"),
    ("operator new(unsigned long)", "operator new"),
    ("operator new[](unsigned long, std::nothrow_t const&)", "operator new[]"),
    ("Foo::operator()(int) const", "Foo::operator()"),
    ("bool operator< <Foo>(Foo const&, Foo const&)", "operator<"),
    ("std::basic_ostream<char>& std::operator<< <std::char_traits<char> >(std::basic_ostream<char>&, char const*)",
     "std::operator<<"),
    ("Foo::operator bool() const", "Foo::operator bool"),
    ("(anonymous namespace)::Step(char const*)", "{anon}::Step"),
    ("Work(int, int)::{lambda()#1}::operator()() const", "Work::{lambda#1}::operator()"),
    ("Step [clone .cold]", "Step"),
    ("main", "main"),
    ("", ""),
])
def test_short_function(name, short):
    assert stacks.short_function(name) == short


def test_long_names_keep_their_last_components():
    name = "a::b::c::d::e::f::g::h::" + "x" * 50
    short = stacks.short_function(name)
    assert len(short) <= stacks.MAX_NAME and short.startswith("…::") and short.endswith("x" * 50)


def test_frames_without_symbols_show_module_and_offset():
    frame = {"function": "", "file": "", "line": 0, "module": "/usr/lib/librdkafka.so.1", "offset": 0x4F2A0}
    assert stacks.frame_name(frame) == "librdkafka.so.1+0x4f2a0"
    assert stacks.frame_where(frame) == ""
    assert stacks.frame_where({"file": "/work/main/tests/programs/exits.cc", "line": 12}) == "programs/exits.cc:12"


def test_describe_skips_the_runtime():
    stack = {"frames": [
        {"function": "std::vector<char>::_M_default_append(unsigned long)", "file": "/usr/include/c++/12/bits/vector.tcc",
         "line": 650, "module": "/usr/bin/app", "offset": 1},
        {"function": "Serializer::Write(Batch const&)", "file": "/src/app/serializer.cc", "line": 88,
         "module": "/usr/bin/app", "offset": 2},
        {"function": "main", "file": "/src/app/main.cc", "line": 3, "module": "/usr/bin/app", "offset": 3}]}
    assert stacks.describe(stack) == ("Serializer::Write", "std::vector::_M_default_append", "app/serializer.cc:88")
    only_runtime = {"frames": [{"function": "", "module": "/lib/x86_64-linux-gnu/libc.so.6", "offset": 0x10}]}
    assert stacks.describe(only_runtime) == ("libc.so.6+0x10", "", "")
    assert stacks.describe({"frames": []}) == ("(no stack)", "", "")
