#!/bin/sh
# embed.sh NAME FILE: a C file defining `const unsigned char NAME[]` with FILE's
# bytes and `const size_t NAME_len`. For data that must be compiled in (the
# pinned Public Suffix List, entry/mapkeys.h).
set -eu
name=$1
file=$2
echo "#include <stddef.h>"
echo "const unsigned char ${name}[] = {"
od -An -v -tx1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
echo "};"
echo "const size_t ${name}_len = $(wc -c < "$file");"
