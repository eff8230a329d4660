package selfserve_test

// These tests keep the README and docs/ true in a fresh clone: every relative
// link leads to a file of the repository (or a heading of one), and the Go
// version the README asks for is go.mod's.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// markdownLink is an inline link or image: [text](target) or [text](target "title").
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("docs/ has no Markdown files")
	}
	return append([]string{"README.md"}, files...)
}

// anchors are the GitHub-style ids of a Markdown file's headings.
func anchors(text string) map[string]bool {
	ids := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, c := range title {
			switch {
			case c == ' ':
				b.WriteRune('-')
			case c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c > 127:
				b.WriteRune(c)
			}
		}
		ids[b.String()] = true
	}
	return ids
}

func TestDocLinksResolve(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range docFiles(t) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		checked := 0
		for _, m := range markdownLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
				abs, err := filepath.Abs(dest)
				if err != nil {
					t.Fatal(err)
				}
				if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("%s links %s, outside the repository", file, target)
					continue
				}
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s links %s, which does not exist", file, target)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(dest, ".md") {
				destText, err := os.ReadFile(dest)
				if err != nil {
					t.Fatal(err)
				}
				if !anchors(string(destText))[frag] {
					t.Errorf("%s links %s, but %s has no heading #%s", file, target, dest, frag)
				}
			}
			checked++
		}
		t.Logf("%s: %d relative links checked", file, checked)
	}
}

func TestReadmeGoVersionIsGoMod(t *testing.T) {
	raw, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.ParseLax("go.mod", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "Go " + mod.Go.Version + " or later"
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not ask for %q (go.mod's go line)", want)
	}
	for _, m := range regexp.MustCompile(`Go \(?(1\.\d+(?:\.\d+)?)`).FindAllStringSubmatch(string(readme), -1) {
		if m[1] != mod.Go.Version {
			t.Errorf("README.md names Go %s; go.mod says %s", m[1], mod.Go.Version)
		}
	}
}
