#!/usr/bin/env python3
"""Writes a large C++ program for bench/symbolize.sh: many translation units
of templates, lambdas and std containers, so that -O2 -g gives a binary with
deep inlining and tens of MB of DWARF, like a real C++ service."""
import os
import sys

out = sys.argv[1]
units = int(sys.argv[2]) if len(sys.argv) > 2 else 48
funcs = int(sys.argv[3]) if len(sys.argv) > 3 else 40
os.makedirs(out, exist_ok=True)

common = r'''
#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>
namespace gen {
template <int N, typename T> struct Acc {
	std::vector<T> v;
	std::map<std::string, T> m;
	void add(const std::string &k, T x) { v.push_back(x * N); m[k] += x; }
	template <typename F> T reduce(F f) const { return std::accumulate(v.begin(), v.end(), T{}, f); }
	T total() const {
		return std::accumulate(m.begin(), m.end(), T{}, [](T a, const auto &kv) { return a + kv.second; });
	}
};
} // namespace gen
'''
with open(os.path.join(out, "common.h"), "w") as f:
    f.write(common)

decls = []
for u in range(units):
    with open(os.path.join(out, f"u{u}.cpp"), "w") as f:
        f.write('#include "common.h"\n')
        f.write(f"namespace u{u} {{\n")
        for i in range(funcs):
            n = u * funcs + i
            t = ["int", "long", "double", "unsigned"][n % 4]
            f.write(f"""
__attribute__((noinline)) {t} f{i}(int n) {{
	gen::Acc<{n % 97 + 1}, {t}> acc;
	for (int i = 0; i < n; i++)
		acc.add("k" + std::to_string(i % {i % 13 + 2}), static_cast<{t}>(i));
	std::sort(acc.v.begin(), acc.v.end(), [](auto a, auto b) {{ return a > b; }});
	std::unordered_map<int, {t}> h;
	for (auto x : acc.v)
		h[static_cast<int>(x) % {i % 7 + 3}] += x;
	std::function<{t}({t}, {t})> g = [&](auto a, auto b) {{ return a + b + static_cast<{t}>(h.size()); }};
	return acc.reduce(g) + acc.total();
}}
""")
        f.write(f"double run(int n) {{ double s = 0;\n")
        for i in range(funcs):
            f.write(f"\ts += f{i}(n);\n")
        f.write("\treturn s; }\n}\n")
    decls.append(f"namespace u{u} {{ double run(int n); }}")

with open(os.path.join(out, "main.cpp"), "w") as f:
    f.write("#include <cstdio>\n#include <cstdlib>\n")
    f.write("\n".join(decls) + "\n")
    f.write("int main(int argc, char **argv) { int n = argc > 1 ? std::atoi(argv[1]) : 3; double s = 0;\n")
    for u in range(units):
        f.write(f"\ts += u{u}::run(n);\n")
    f.write('\tstd::printf("%f\\n", s); return 0; }\n')
