// Package getopt parses command lines the way BCC's tools (Python argparse)
// and other Unix tools expect: bundled short options (-af, -fKu), values
// attached or separate (-F99, -F 99), long options (--frequency=99), and "--".
package getopt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrHelp is returned by Parse when -h or --help is given.
var ErrHelp = errors.New("help requested")

// Set is a set of options for one command.
type Set struct {
	opts []*option
}

type option struct {
	short byte
	long  string
	arg   string // the value's name in help, "" for a switch
	usage string
	set   func(string) error
	given bool // on the command line
}

// Bool adds a switch.
func (s *Set) Bool(short byte, long, usage string) *bool {
	v := new(bool)
	s.opts = append(s.opts, &option{short: short, long: long, usage: usage, set: func(string) error { *v = true; return nil }})
	return v
}

// String adds an option with a text value.
func (s *Set) String(short byte, long, arg, def, usage string) *string {
	v := &def
	s.opts = append(s.opts, &option{short: short, long: long, arg: arg, usage: usage, set: func(x string) error { *v = x; return nil }})
	return v
}

// List adds an option that may be given more than once; each value is
// appended.
func (s *Set) List(short byte, long, arg, usage string) *[]string {
	v := new([]string)
	s.opts = append(s.opts, &option{short: short, long: long, arg: arg, usage: usage, set: func(x string) error { *v = append(*v, x); return nil }})
	return v
}

// Uint adds an option with a non-negative integer value.
func (s *Set) Uint(short byte, long, arg string, def uint64, usage string) *uint64 {
	v := &def
	s.opts = append(s.opts, &option{short: short, long: long, arg: arg, usage: usage, set: func(x string) error {
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return fmt.Errorf("not a non-negative integer: %q", x)
		}
		*v = n
		return nil
	}})
	return v
}

// Int adds an option with an integer value.
func (s *Set) Int(short byte, long, arg string, def int64, usage string) *int64 {
	v := &def
	s.opts = append(s.opts, &option{short: short, long: long, arg: arg, usage: usage, set: func(x string) error {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", x)
		}
		*v = n
		return nil
	}})
	return v
}

// Given reports whether the option with this long name was on the command
// line, so that a command can tell an explicit value from the default.
func (s *Set) Given(long string) bool {
	for _, o := range s.opts {
		if o.long == long {
			return o.given
		}
	}
	return false
}

func (s *Set) lookupShort(c byte) *option {
	for _, o := range s.opts {
		if o.short != 0 && o.short == c {
			return o
		}
	}
	return nil
}

func (s *Set) lookupLong(name string) (*option, error) {
	var found *option
	for _, o := range s.opts {
		if o.long == name {
			return o, nil
		}
		// argparse accepts unambiguous prefixes of long options.
		if strings.HasPrefix(o.long, name) {
			if found != nil {
				return nil, fmt.Errorf("ambiguous option --%s (--%s or --%s?)", name, found.long, o.long)
			}
			found = o
		}
	}
	if found == nil {
		return nil, fmt.Errorf("unknown option --%s", name)
	}
	return found, nil
}

// Parse sets the options found in args and returns the other arguments.
func (s *Set) Parse(args []string) ([]string, error) {
	rest, command, err := s.ParseCommand(args)
	if command != nil {
		rest = append(rest, command...)
	}
	return rest, err
}

// ParseCommand is Parse for a command that runs another (profile -- CMD):
// what follows "--" is that command, returned apart, non-nil when "--" was
// given.
func (s *Set) ParseCommand(args []string) (rest, command []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return rest, append([]string{}, args[i+1:]...), nil
		case a == "-h" || a == "--help":
			return nil, nil, ErrHelp
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			o, err := s.lookupLong(name)
			if err != nil {
				return nil, nil, err
			}
			o.given = true
			if o.arg == "" {
				if hasVal {
					return nil, nil, fmt.Errorf("option --%s takes no value", o.long)
				}
				o.set("")
				continue
			}
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("option --%s needs a value (%s)", o.long, o.arg)
				}
				i++
				val = args[i]
			}
			if err := o.set(val); err != nil {
				return nil, nil, fmt.Errorf("option --%s: %w", o.long, err)
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := s.lookupShort(a[j])
				if o == nil {
					return nil, nil, fmt.Errorf("unknown option -%c", a[j])
				}
				o.given = true
				if o.arg == "" {
					o.set("")
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, nil, fmt.Errorf("option -%c needs a value (%s)", a[j], o.arg)
					}
					i++
					val = args[i]
				}
				if err := o.set(val); err != nil {
					return nil, nil, fmt.Errorf("option -%c: %w", a[j], err)
				}
				break
			}
		default:
			rest = append(rest, a)
		}
	}
	return rest, nil, nil
}

// Usage formats the option list for --help, one option a line.
func (s *Set) Usage() string {
	var b strings.Builder
	for _, o := range s.opts {
		var names []string
		if o.short != 0 {
			n := "-" + string(o.short)
			if o.arg != "" && o.long == "" {
				n += " " + o.arg
			}
			names = append(names, n)
		}
		if o.long != "" {
			n := "--" + o.long
			if o.arg != "" {
				n += " " + o.arg
			}
			names = append(names, n)
		}
		n := strings.Join(names, ", ")
		if len(n) > 31 {
			fmt.Fprintf(&b, "  %s\n  %-32s %s\n", n, "", o.usage)
			continue
		}
		fmt.Fprintf(&b, "  %-32s %s\n", n, o.usage)
	}
	return b.String()
}
