// Command pinimages pins the base images of the Dockerfile and the images of
// docker-compose.yaml by digest: each reference name:tag becomes
// name:tag@sha256:..., the digest the registry serves for the tag now (for
// a multi-platform image, its index, so that every platform stays
// buildable). A reference already pinned is pinned again to the tag's
// current digest, which is how the pins are updated. With -check it changes
// nothing and fails when a reference is not pinned.
//
//	go run ./tools/pinimages            # pin or update, needs the registries
//	go run ./tools/pinimages -check     # every image pinned? (offline)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/crane"
)

// A line that names an image: a Dockerfile's FROM (with its flags and
// stage name around the reference) or a compose file's image key.
var (
	fromLine  = regexp.MustCompile(`(?m)^(FROM[ \t]+(?:--\S+[ \t]+)*)(\S+)`)
	imageLine = regexp.MustCompile(`(?m)^([ \t]*image:[ \t]*)(\S+)`)
	stageName = regexp.MustCompile(`(?im)^FROM[ \t]+.*[ \t]+AS[ \t]+(\S+)`)
)

// resolver answers the digest a registry serves for a reference.
type resolver func(ref string) (string, error)

func main() {
	check := flag.Bool("check", false, "change nothing; fail when an image is not pinned by digest")
	local := flag.String("local", "selfserve", "comma-separated repositories built here, never pinned")
	insecure := flag.Bool("insecure", false, "reach registries over plain http (a local test registry)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: pinimages [-check] [-local repos] [files...] (default: Dockerfile docker-compose.yaml)")
		flag.PrintDefaults()
	}
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		files = []string{"Dockerfile", "docker-compose.yaml"}
	}
	var opts []crane.Option
	if *insecure {
		opts = append(opts, crane.Insecure)
	}
	resolve := func(ref string) (string, error) { return crane.Digest(ref, opts...) }
	if err := run(files, strings.Split(*local, ","), *check, resolve, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pinimages:", err)
		os.Exit(1)
	}
}

// run pins (or, with check, verifies) the references of files.
func run(files, local []string, check bool, resolve resolver, out io.Writer) error {
	var unpinned []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		refs := references(src, local)
		if check {
			for _, r := range refs {
				if !strings.Contains(r, "@sha256:") {
					unpinned = append(unpinned, f+": "+r)
				}
			}
			continue
		}
		pinned, err := pin(src, refs, resolve)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if !bytes.Equal(pinned, src) {
			if err := os.WriteFile(f, pinned, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: pinned %d images\n", f, len(refs))
		}
	}
	if len(unpinned) > 0 {
		return fmt.Errorf("not pinned by digest:\n  %s", strings.Join(unpinned, "\n  "))
	}
	return nil
}

// references lists the image references of a Dockerfile or compose file,
// leaving out build stages, references made of build arguments and the
// repositories built here.
func references(src []byte, local []string) []string {
	stages := map[string]bool{}
	for _, m := range stageName.FindAllSubmatch(src, -1) {
		stages[strings.ToLower(string(m[1]))] = true
	}
	var out []string
	for _, re := range []*regexp.Regexp{fromLine, imageLine} {
		for _, m := range re.FindAllSubmatch(src, -1) {
			ref := string(m[2])
			repo := ref
			if i := strings.IndexAny(repo, ":@"); i >= 0 && !strings.Contains(repo[i:], "/") {
				repo = repo[:i]
			}
			if stages[strings.ToLower(ref)] || strings.Contains(ref, "$") || slices.Contains(local, repo) || ref == "scratch" {
				continue
			}
			if !slices.Contains(out, ref) {
				out = append(out, ref)
			}
		}
	}
	return out
}

// pin rewrites each reference of refs in src as its tag at the digest the
// registry serves for the tag now.
func pin(src []byte, refs []string, resolve resolver) ([]byte, error) {
	for _, ref := range refs {
		tagged, _, _ := strings.Cut(ref, "@")
		digest, err := resolve(tagged)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tagged, err)
		}
		pinned := tagged + "@" + digest
		for _, re := range []*regexp.Regexp{fromLine, imageLine} {
			src = re.ReplaceAllFunc(src, func(line []byte) []byte {
				m := re.FindSubmatch(line)
				if string(m[2]) != ref {
					return line
				}
				return append(append([]byte{}, m[1]...), pinned...)
			})
		}
	}
	return src, nil
}
