#!/bin/sh
# Regenerates the symbolizer's fixture binaries in elf/ from src/, so that the
# tests need no compiler. Needs gcc, g++, rustc, go, binutils (objcopy, strip,
# nm) with zstd support, and xz. Run from anywhere: sh symbolize/testdata/build.sh
set -eu
cd "$(dirname "$0")"
here=$(pwd)
out=elf
rm -rf "$out"
mkdir -p "$out/debuglink/.debug" "$out/debugroot"
# File names in the DWARF are made independent of where this runs.
map="-ffile-prefix-map=$here=/ember/symbolize/testdata"
cflags="-O2 -g -fno-omit-frame-pointer $map -Wl,--build-id=sha1"

gcc $cflags -o "$out/c" src/c/prog.c
g++ $cflags -o "$out/cpp" src/cpp/prog.cpp
# clang's DWARF 5 uses forms gcc's does not (strx, addrx, rnglistx).
clang++ $cflags -o "$out/cpp-clang" src/cpp/prog.cpp
# Rust's binary carries the standard library's line tables: compress its
# debug sections (zlib, which llvm-addr2line 14 also reads) to keep it small.
rustc -C opt-level=2 -g -C panic=abort --remap-path-prefix="$here=/ember/symbolize/testdata" \
	-C link-arg=-Wl,--build-id=sha1 -C link-arg=-Wl,--compress-debug-sections=zlib \
	-o "$out/rust" src/rust/prog.rs
(cd src/go && go build -trimpath -o "$here/$out/go" . && go build -trimpath -ldflags='-s -w' -o "$here/$out/go-stripped" .)

# zstd-compressed debug sections.
objcopy --compress-debug-sections=zstd "$out/c" "$out/c-zstd"

# Stripped, with its debug info in a file found through .gnu_debuglink (CRC-checked).
objcopy --only-keep-debug "$out/c" "$out/debuglink/.debug/c.debug"
strip --strip-all -o "$out/debuglink/c" "$out/c"
objcopy --add-gnu-debuglink="$out/debuglink/.debug/c.debug" "$out/debuglink/c"

# Stripped, with no debuglink: found by build ID under a debug root.
id=$(readelf -n "$out/cpp" | sed -n 's/.*Build ID: *//p')
mkdir -p "$out/debugroot/.build-id/$(echo "$id" | cut -c1-2)"
objcopy --only-keep-debug "$out/cpp" "$out/debugroot/.build-id/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-).debug"
strip --strip-all -o "$out/cpp-stripped" "$out/cpp"

# MiniDebugInfo, as Fedora builds it: the function symbols missing from
# .dynsym, in an xz-compressed ELF in .gnu_debugdata of a stripped binary.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D "$out/c" --format=posix --defined-only | awk '{print $1}' | sort >"$tmp/dynsyms"
nm "$out/c" --format=posix --defined-only | awk '$2 == "T" || $2 == "t" {print $1}' | sort >"$tmp/funcsyms"
comm -13 "$tmp/dynsyms" "$tmp/funcsyms" >"$tmp/keep"
objcopy --only-keep-debug "$out/c" "$tmp/debug"
objcopy -S --remove-section .gdb_index --remove-section .comment --keep-symbols="$tmp/keep" "$tmp/debug" "$tmp/mini"
xz -9 "$tmp/mini"
strip --strip-all -R .comment -o "$out/c-minidebug" "$out/c"
objcopy --add-section .gnu_debugdata="$tmp/mini.xz" "$out/c-minidebug"

# Tiny binaries, a few KiB each, as fuzzing seeds: the fuzzer mutates and
# runs them thousands of times a second, where it crawled through the
# fixtures above. gcc DWARF 4 (.debug_ranges) and 5 (.debug_rnglists), clang
# DWARF 5 (strx/addrx forms), zlib- and zstd-compressed sections, and
# MiniDebugInfo with a small xz dictionary.
mkdir -p "$out/tiny"
tflags="-O2 -nostdlib -static -fno-asynchronous-unwind-tables -fno-pie -no-pie -Wl,-N -Wl,--no-warn-rwx-segments -Wl,--build-id=sha1 $map"
drop="-R .comment -R .note.gnu.property -R .debug_aranges -R .debug_frame -R .debug_loclists -R .debug_loc -R .eh_frame"
gcc $tflags -gdwarf-4 -o "$tmp/t" src/tiny/tiny.c && objcopy $drop "$tmp/t" "$out/tiny/gcc-dwarf4"
gcc $tflags -gdwarf-5 -o "$tmp/t" src/tiny/tiny.c && objcopy $drop "$tmp/t" "$out/tiny/gcc-dwarf5"
clang $tflags -gdwarf-5 -o "$tmp/t" src/tiny/tiny.c 2>/dev/null && objcopy $drop "$tmp/t" "$out/tiny/clang-dwarf5"
objcopy --compress-debug-sections=zlib "$out/tiny/gcc-dwarf5" "$out/tiny/gcc-zlib"
objcopy --compress-debug-sections=zstd "$out/tiny/gcc-dwarf4" "$out/tiny/gcc-zstd"
objcopy -S --keep-symbol=f --keep-symbol=g "$out/tiny/gcc-dwarf5" "$tmp/tmini"
xz --format=xz --lzma2=preset=0,dict=4KiB -c "$tmp/tmini" >"$tmp/tmini.xz"
strip --strip-all -o "$out/tiny/minidebug" "$out/tiny/gcc-dwarf5"
objcopy --add-section .gnu_debugdata="$tmp/tmini.xz" "$out/tiny/minidebug"
