package invoicepdf

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"unicode"

	"golang.org/x/image/font/sfnt"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// Font is a TrueType font with Chinese glyphs that Chinese documents are set
// in. The PDF core fonts have none, and a document must carry the glyphs of
// its Chinese text for every reader to draw it, so the font is embedded
// (subset to the characters used) in every zh-CN invoice.
type Font struct {
	Path string // where it was read from
	ttf  []byte // a single TrueType font (a collection's first face)
}

// CJKFontPaths are the places FindCJKFont looks: where Debian's and Fedora's
// packages fonts-wqy-microhei, fonts-wqy-zenhei and fonts-arphic-uming put
// fonts with TrueType outlines, the simplified Chinese characters and the
// Latin ones. Fonts with CFF outlines, such as Noto Sans CJK, cannot be
// embedded by the PDF writer, and fallback fonts without Latin letters, such
// as Droid Sans Fallback, cannot set an invoice's numbers and names.
var CJKFontPaths = []string{
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/arphic/uming.ttc",
	"/usr/share/fonts/arphic-uming/uming.ttc",
}

// ErrNoCJKFont is returned by FindCJKFont when none of CJKFontPaths holds a
// usable font.
var ErrNoCJKFont = errors.New("invoicepdf: no font with Chinese and Latin glyphs found")

// FindCJKFont loads the first usable font of CJKFontPaths.
func FindCJKFont() (*Font, error) {
	for _, p := range CJKFontPaths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if f, err := LoadCJKFont(p); err == nil {
			return f, nil
		}
	}
	return nil, ErrNoCJKFont
}

// LoadCJKFont reads a TrueType font (.ttf) or collection (.ttc, whose first
// face is used) and checks that it can set an invoice: printable ASCII and
// every Chinese label.
func LoadCJKFont(path string) (*Font, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invoicepdf: CJK font: %w", err)
	}
	f, err := ParseCJKFont(b)
	if err != nil {
		return nil, fmt.Errorf("invoicepdf: CJK font %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// ParseCJKFont is LoadCJKFont on the bytes of a font file.
func ParseCJKFont(b []byte) (*Font, error) {
	ttf, err := firstFace(b)
	if err != nil {
		return nil, err
	}
	parsed, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, err
	}
	var buf sfnt.Buffer
	need := func(r rune, what string) error {
		if g, err := parsed.GlyphIndex(&buf, r); err != nil || g == 0 {
			return fmt.Errorf("no glyph for %q (%U): not a font with %s", r, r, what)
		}
		return nil
	}
	for r := rune('!'); r <= '~'; r++ {
		if err := need(r, "the Latin letters"); err != nil {
			return nil, err
		}
	}
	for _, s := range catalog[locale.Code(locale.Chinese)] {
		for _, r := range s {
			if unicode.IsSpace(r) {
				continue
			}
			if err := need(r, "the Chinese characters"); err != nil {
				return nil, err
			}
		}
	}
	return &Font{ttf: ttf}, nil
}

// The sfnt formats: TrueType outlines, and a collection of fonts.
const (
	tagTrueType   = 0x00010000
	tagCollection = 0x74746366 // "ttcf"
)

// firstFace returns a TrueType font file: b itself, or the first face of a
// collection written out as a font file of its own. A collection's faces
// share tables at offsets from the start of the collection, which a font file
// cannot point to, so the face's tables are copied after a new table
// directory.
func firstFace(b []byte) ([]byte, error) {
	if len(b) < 12 {
		return nil, errors.New("not a font file")
	}
	switch binary.BigEndian.Uint32(b) {
	case tagTrueType, 0x74727565: // "true", as old Apple fonts say
		return b, nil
	case tagCollection:
	case 0x4f54544f: // "OTTO"
		return nil, errors.New("a font with CFF outlines cannot be embedded; use one with TrueType outlines")
	default:
		return nil, errors.New("not a TrueType font or collection")
	}
	if binary.BigEndian.Uint32(b[8:]) == 0 {
		return nil, errors.New("an empty font collection")
	}
	if len(b) < 16 {
		return nil, errors.New("a truncated font collection")
	}
	dir := int(binary.BigEndian.Uint32(b[12:]))
	if dir < 0 || dir+12 > len(b) {
		return nil, errors.New("a truncated font collection")
	}
	if v := binary.BigEndian.Uint32(b[dir:]); v != tagTrueType {
		return nil, errors.New("the collection's first face has no TrueType outlines")
	}
	n := int(binary.BigEndian.Uint16(b[dir+4:]))
	if n == 0 || dir+12+16*n > len(b) {
		return nil, errors.New("a truncated font collection")
	}
	type table struct {
		tag, sum    uint32
		off, length int
	}
	tables := make([]table, n)
	for i := range tables {
		rec := b[dir+12+16*i:]
		t := table{tag: binary.BigEndian.Uint32(rec), sum: binary.BigEndian.Uint32(rec[4:]),
			off: int(binary.BigEndian.Uint32(rec[8:])), length: int(binary.BigEndian.Uint32(rec[12:]))}
		if t.off < 0 || t.length < 0 || t.off > len(b) || t.length > len(b)-t.off {
			return nil, fmt.Errorf("table %q lies outside the file", tagString(t.tag))
		}
		tables[i] = t
	}
	// The directory is sorted by tag, as the format requires.
	sort.Slice(tables, func(i, j int) bool { return tables[i].tag < tables[j].tag })

	size := 12 + 16*n
	for _, t := range tables {
		size += (t.length + 3) &^ 3
	}
	out := make([]byte, 12+16*n, size)
	copy(out, b[dir:dir+12]) // version, numTables, and the search fields
	for i, t := range tables {
		rec := out[12+16*i:]
		binary.BigEndian.PutUint32(rec, t.tag)
		binary.BigEndian.PutUint32(rec[4:], t.sum)
		binary.BigEndian.PutUint32(rec[8:], uint32(len(out)))
		binary.BigEndian.PutUint32(rec[12:], uint32(t.length))
		out = append(out, b[t.off:t.off+t.length]...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out, nil
}

func tagString(tag uint32) string {
	return string([]byte{byte(tag >> 24), byte(tag >> 16), byte(tag >> 8), byte(tag)})
}

// The Go module that ships WenQuanYi Micro Hei (Apache License 2.0 or GPLv3),
// a TrueType collection with the Chinese characters, at a pinned version: the
// Go toolchain checks what it downloads against the checksum database.
const (
	fontModule     = "github.com/mojocn/base64Captcha@v1.3.8"
	fontModuleFile = "fonts/wqy-microhei.ttc"
)

// ModuleCacheCJKFont loads WenQuanYi Micro Hei from the Go module cache,
// downloading its module first if it is not there: for development and tests
// on a machine with Go and no font package. It runs the go command, so it is
// no way for a production server to find its font (see CJKFontPaths).
func ModuleCacheCJKFont(ctx context.Context) (*Font, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, gobin, "mod", "download", "-json", fontModule)
	// Outside any module or workspace, so that nothing of the caller's is
	// read or changed.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &mod); jerr != nil || mod.Dir == "" {
		if mod.Error != "" {
			err = errors.New(mod.Error)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		if err == nil {
			err = fmt.Errorf("no module directory in the go command's answer: %q", out)
		}
		return nil, fmt.Errorf("invoicepdf: go mod download %s: %v", fontModule, err)
	}
	return LoadCJKFont(filepath.Join(mod.Dir, filepath.FromSlash(fontModuleFile)))
}
