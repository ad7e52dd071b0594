package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// optSpec is one option as Perl's Getopt::Long declares it, which
// flamegraph.pl uses: "--name value", "--name=value", "-name value", any
// unambiguous prefix of the name, in any case.
type optSpec struct {
	name  string
	value bool // takes a value
	set   func(string) error
}

var errHelp = errors.New("help requested")

// parseOpts parses args against specs and returns the operands. Options and
// operands may be mixed, as Getopt::Long allows; "--" ends the options and a
// lone "-" is an operand (standard input).
func parseOpts(specs []optSpec, args []string) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		value, hasValue := "", false
		if j := strings.IndexByte(name, '='); j >= 0 {
			name, value, hasValue = name[:j], name[j+1:], true
		}
		if len(name) > 1 {
			// Getopt::Long ignores case by default.
			name = strings.ToLower(name)
		}
		spec, err := lookupOpt(specs, name)
		if err != nil {
			return nil, err
		}
		if !spec.value {
			if hasValue {
				return nil, fmt.Errorf("option --%s takes no value", spec.name)
			}
			if err := spec.set(""); err != nil {
				return nil, err
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("option --%s needs a value", spec.name)
			}
			i++
			value = args[i]
		}
		if err := spec.set(value); err != nil {
			return nil, fmt.Errorf("option --%s: %w", spec.name, err)
		}
	}
	return rest, nil
}

// lookupOpt finds an option by its name or an unambiguous prefix of it.
func lookupOpt(specs []optSpec, name string) (*optSpec, error) {
	var matches []*optSpec
	for i := range specs {
		if specs[i].name == name {
			return &specs[i], nil
		}
		if name != "" && strings.HasPrefix(specs[i].name, name) {
			matches = append(matches, &specs[i])
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("unknown option: %s", name)
	case 1:
		return matches[0], nil
	}
	var names []string
	for _, m := range matches {
		names = append(names, "--"+m.name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("option %s is ambiguous (%s)", name, strings.Join(names, ", "))
}
