package locale

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Catalog is a message catalog of golang.org/x/text: every message of a
// package in the four supported languages, English being the fallback. A
// package builds one at start-up and reads it with Sprintf; its test calls
// Missing, which must be empty.
type Catalog struct {
	name     string
	builder  *catalog.Builder
	printers [4]*message.Printer

	mu   sync.RWMutex
	keys map[string][4]bool // key → which languages have a message
}

var (
	catalogsMu sync.Mutex
	catalogs   []*Catalog
)

// NewCatalog makes an empty catalog; name tells whose it is in errors.
func NewCatalog(name string) *Catalog {
	c := &Catalog{name: name, builder: catalog.NewBuilder(catalog.Fallback(English)), keys: map[string][4]bool{}}
	for i, t := range Supported {
		c.printers[i] = message.NewPrinter(t, message.Catalog(c.builder))
	}
	catalogsMu.Lock()
	catalogs = append(catalogs, c)
	catalogsMu.Unlock()
	return c
}

// Catalogs are every catalog made in this process, for tests.
func Catalogs() []*Catalog {
	catalogsMu.Lock()
	defer catalogsMu.Unlock()
	return append([]*Catalog(nil), catalogs...)
}

// Name is the catalog's name.
func (c *Catalog) Name() string { return c.name }

// Set adds a plain text in each language, in the order of Supported (en, fr,
// sv, zh-CN). A text is printed as written: it is no format.
func (c *Catalog) Set(key string, texts [4]string) {
	var msgs [4]catalog.Message
	for i, s := range texts {
		if s != "" {
			msgs[i] = catalog.String(strings.ReplaceAll(s, "%", "%%"))
		}
	}
	c.SetMessages(key, msgs)
}

// SetFormat adds a format (fmt verbs, printed with Sprintf's arguments) in
// each language, in the order of Supported.
func (c *Catalog) SetFormat(key string, formats [4]string) {
	var msgs [4]catalog.Message
	for i, s := range formats {
		if s != "" {
			msgs[i] = catalog.String(s)
		}
	}
	c.SetMessages(key, msgs)
}

// SetMessages adds a message in each language, in the order of Supported: a
// string, or a selection such as Plural. A nil message is a missing
// translation, which Missing reports and which prints in English.
func (c *Catalog) SetMessages(key string, msgs [4]catalog.Message) {
	var seqs [4][]catalog.Message
	for i, m := range msgs {
		if m != nil {
			seqs[i] = []catalog.Message{m}
		}
	}
	c.SetSequences(key, seqs)
}

// SetSequences adds a message in each language, in the order of Supported,
// as a sequence of x/text messages: variables (catalog.Var, say one Plural
// per count) then the string that uses them as ${name}. An empty sequence is
// a missing translation.
func (c *Catalog) SetSequences(key string, msgs [4][]catalog.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.keys[key]; dup {
		panic(fmt.Sprintf("locale: catalog %s: %q set twice", c.name, key))
	}
	var have [4]bool
	for i, m := range msgs {
		if len(m) == 0 {
			continue
		}
		if err := c.builder.Set(Supported[i], key, m...); err != nil {
			panic(fmt.Sprintf("locale: catalog %s: %q in %s: %v", c.name, key, Supported[i], err))
		}
		have[i] = true
	}
	c.keys[key] = have
}

// Plural selects, by the number that is argument arg (1-based) of Sprintf,
// between the language's singular and plural forms (CLDR plural rules: in
// French 0 and 1 take the singular). Each form is a format.
func Plural(arg int, one, other string) catalog.Message {
	return plural.Selectf(arg, "%d", plural.One, one, plural.Other, other)
}

// PluralForm is the CLDR cardinal plural category of the whole number n in
// lang: plural.One or plural.Other for the supported languages (English and
// Swedish: one for 1; French: one for 0 and 1; Chinese: always other). It is
// the rule Plural selects by.
func PluralForm(lang language.Tag, n int) plural.Form {
	if n < 0 {
		n = -n
	}
	return plural.Cardinal.MatchPlural(lang, n, 0, 0, 0, 0)
}

// Sprintf prints the message key in lang (one of Supported, else English)
// with args.
func (c *Catalog) Sprintf(lang language.Tag, key string, args ...any) string {
	i := Index(lang)
	c.mu.RLock()
	have := c.keys[key]
	c.mu.RUnlock()
	if !have[i] {
		i = 0 // untranslated: English
	}
	return c.printers[i].Sprintf(key, args...)
}

// Has tells whether key is in the catalog.
func (c *Catalog) Has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.keys[key]
	return ok
}

// Keys are the catalog's keys, sorted.
func (c *Catalog) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Missing lists, as "key (language)", every translation the catalog lacks.
func (c *Catalog) Missing() []string {
	var out []string
	for _, k := range c.Keys() {
		c.mu.Lock()
		have := c.keys[k]
		c.mu.Unlock()
		for i, ok := range have {
			if !ok {
				out = append(out, fmt.Sprintf("%s (%s)", k, Code(Supported[i])))
			}
		}
	}
	return out
}

// Index is the position of lang in Supported; English for any other.
func Index(lang language.Tag) int {
	switch lang {
	case French:
		return 1
	case Swedish:
		return 2
	case Chinese:
		return 3
	default:
		return 0
	}
}
