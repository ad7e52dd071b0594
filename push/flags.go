package push

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emberprof/ember/internal/getopt"
	"github.com/emberprof/ember/internal/untrusted"
)

// Flags are the --push options that profile and offcputime share.
type Flags struct {
	url, service *string
	labels       *[]string
	interval     *string
	queue        *uint64
}

// DefineFlags adds the --push options to fs.
func DefineFlags(fs *getopt.Set) *Flags {
	return &Flags{
		url:      fs.String(0, "push", "URL", "", "push each interval's profile to a Pyroscope server at URL (e.g. http://localhost:4040); auth from $EMBER_PUSH_TOKEN (bearer) or $EMBER_PUSH_BASIC_AUTH (user:password)"),
		interval: fs.String(0, "push-interval", "DURATION", "15s", "length of each pushed interval (default 15s)"),
		service:  fs.String(0, "service-name", "NAME", "", "the service_name label (default: the command's name with -- CMD, else the process's name with one -p PID, else ember-<command>)"),
		labels:   fs.List(0, "label", "KEY=VALUE", "another label for every pushed series (repeatable)"),
		queue:    fs.Uint(0, "push-queue", "N", 8, "intervals kept while the server is slow or down; the oldest is dropped past N (default 8)"),
	}
}

// Enabled says whether --push was given.
func (f *Flags) Enabled() bool { return *f.url != "" }

// Interval is --push-interval, checked.
func (f *Flags) Interval() (time.Duration, error) {
	d, err := time.ParseDuration(*f.interval)
	if err != nil || d < time.Second || d > time.Hour {
		return 0, fmt.Errorf("--push-interval %q: give a duration from 1s to 1h, e.g. 15s", *f.interval)
	}
	return d, nil
}

// Config is the pusher's configuration for profiles named name (the
// profile type: process_cpu, offcpu), with service the default
// service_name.
func (f *Flags) Config(name, service string) (Config, error) {
	if err := checkURL(*f.url); err != nil {
		return Config{}, err
	}
	if *f.service != "" {
		service = *f.service
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	labels := map[string]string{"service_name": service, "host": host}
	for _, kv := range *f.labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return Config{}, fmt.Errorf("--label %q: give KEY=VALUE", kv)
		}
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return Config{}, fmt.Errorf("--label %q: a key has letters, digits and _, and does not start with __", kv)
		}
		labels[k] = v
	}
	if *f.queue == 0 || *f.queue > 1000 {
		return Config{}, fmt.Errorf("--push-queue %d: give 1 to 1000", *f.queue)
	}
	c := Config{URL: *f.url, Name: name, Labels: labels, Queue: int(*f.queue), Token: os.Getenv("EMBER_PUSH_TOKEN")}
	if ba := os.Getenv("EMBER_PUSH_BASIC_AUTH"); ba != "" {
		c.User, c.Password, _ = strings.Cut(ba, ":")
	}
	return c, nil
}

// DefaultService is the service_name when --service-name is not given: the
// command's name with -- CMD, the process's name with one -p PID, else
// ember-TOOL.
func DefaultService(tool string, command []string, pids []uint32, procRoot string) string {
	switch {
	case len(command) > 0:
		return filepath.Base(command[0])
	case len(pids) == 1:
		b, err := untrusted.ReadFile(filepath.Join(procRoot, strconv.Itoa(int(pids[0])), "comm"), 64)
		if name := strings.TrimSpace(string(b)); err == nil && name != "" {
			return name
		}
	}
	return "ember-" + tool
}
