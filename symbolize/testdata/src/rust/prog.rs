// A Rust fixture built -O -g: generics, closures, traits and iterator
// chains, which inline deeply.
use std::collections::HashMap;

trait Shape {
    fn area(&self) -> f64;
}

struct Rect {
    w: f64,
    h: f64,
}

struct Circle {
    r: f64,
}

impl Shape for Rect {
    fn area(&self) -> f64 {
        self.w * self.h
    }
}

impl Shape for Circle {
    fn area(&self) -> f64 {
        3.14159 * self.r * self.r
    }
}

fn fold<T: Copy, F: Fn(T, T) -> T>(v: &[T], init: T, f: F) -> T {
    v.iter().fold(init, |a, &x| f(a, x))
}

#[inline(never)]
fn total_area(v: &[Box<dyn Shape>]) -> f64 {
    v.iter().map(|s| s.area()).sum()
}

#[inline(never)]
fn words(n: usize) -> usize {
    let mut m: HashMap<String, usize> = HashMap::new();
    for i in 0..n {
        *m.entry(format!("w{}", i % 7)).or_insert(0) += i;
    }
    m.values().sum()
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let mut v: Vec<Box<dyn Shape>> = Vec::new();
    for i in 0..n {
        if i % 2 == 1 {
            v.push(Box::new(Rect { w: i as f64, h: (i + 1) as f64 }));
        } else {
            v.push(Box::new(Circle { r: i as f64 }));
        }
    }
    v.sort_by(|a, b| a.area().partial_cmp(&b.area()).unwrap());
    let ints: Vec<u64> = (1..=n as u64).collect();
    let p = fold(&ints, 1, |a, b| a * b % 1000003);
    println!("{} {} {}", total_area(&v), words(n), p);
}
