//go:build tools

// Package pyroscope pins the Grafana Pyroscope server that the push tests
// run against (a real server, not a mock): .ci/run builds it with
//
//	go build -o BIN github.com/grafana/pyroscope/cmd/pyroscope
//
// from this directory. It is a module of its own so that ember's build
// never needs Pyroscope's dependencies.
package pyroscope

import _ "github.com/grafana/pyroscope/cmd/pyroscope"
