package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/selfserve/selfserve/cmd/selfserve/internal/layout"
)

// ErrUsage is answered for a command line the flags refuse (or -h); the
// flag set has printed why.
var ErrUsage = errors.New("usage")

// components are the processes the bench starts and measures.
var components = layout.Components

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("selfserve "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse reads the command line; the bench's commands take no arguments.
func parse(f *flag.FlagSet, args []string) error {
	if err := f.Parse(args); err != nil {
		return ErrUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(f.Output(), "unexpected arguments: %s\n", strings.Join(f.Args(), " "))
		return ErrUsage
	}
	return nil
}
