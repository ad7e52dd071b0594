// A C++ fixture built -O2 -g: templates, lambdas, a class hierarchy and
// std algorithms, so names are long, mangled and inlined several deep.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <numeric>
#include <string>
#include <vector>

namespace shapes {

struct Shape {
	virtual ~Shape() = default;
	virtual double area() const = 0;
};

struct Rect : Shape {
	double w, h;
	Rect(double w, double h) : w(w), h(h) {}
	double area() const override { return w * h; }
};

struct Circle : Shape {
	double r;
	explicit Circle(double r) : r(r) {}
	double area() const override { return 3.14159 * r * r; }
};

template <typename T, typename F>
T fold(const std::vector<T> &v, T init, F f)
{
	for (const auto &x : v)
		init = f(init, x);
	return init;
}

template <typename K, typename V>
class Counter {
public:
	void add(const K &k, V v) { m_[k] += v; }
	V total() const
	{
		return std::accumulate(m_.begin(), m_.end(), V{},
				       [](V acc, const auto &kv) { return acc + kv.second; });
	}

private:
	std::map<K, V> m_;
};

} // namespace shapes

__attribute__((noinline)) double total_area(const std::vector<shapes::Shape *> &v)
{
	return std::accumulate(v.begin(), v.end(), 0.0,
			       [](double a, const shapes::Shape *s) { return a + s->area(); });
}

__attribute__((noinline)) int words(int n)
{
	shapes::Counter<std::string, int> c;
	for (int i = 0; i < n; i++)
		c.add("w" + std::to_string(i % 7), i);
	return c.total();
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? std::atoi(argv[1]) : 10;
	std::vector<shapes::Shape *> v;
	for (int i = 0; i < n; i++) {
		if (i % 2)
			v.push_back(new shapes::Rect(i, i + 1));
		else
			v.push_back(new shapes::Circle(i));
	}
	std::sort(v.begin(), v.end(), [](auto *a, auto *b) { return a->area() < b->area(); });
	std::vector<int> ints(n);
	std::iota(ints.begin(), ints.end(), 1);
	std::function<int(int, int)> mul = [](int a, int b) { return a * b % 1000003; };
	int p = shapes::fold(ints, 1, mul);
	std::printf("%f %d %d\n", total_area(v), words(n), p);
	for (auto *s : v)
		delete s;
	return 0;
}
