// Package locale picks the language of a response from Accept-Language: one of
// en, fr, sv and zh-CN, with English as the fallback.
package locale

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/text/language"
	"google.golang.org/grpc/metadata"
)

// The supported languages, English first so that it is the fallback.
var (
	English = language.English
	French  = language.French
	Swedish = language.Swedish
	Chinese = language.MustParse("zh-CN")

	Supported = []language.Tag{English, French, Swedish, Chinese}
	matcher   = language.NewMatcher(Supported)
)

// Header is the metadata key the gateway forwards Accept-Language under.
const Header = "accept-language"

// Match picks the supported language that best fits an Accept-Language value
// (quality values and fallbacks included: fr-CA gives fr, zh-Hans gives zh-CN).
// Answers are remembered for the first maxMatched or so distinct values
// (callers that race past the count may add a few more; callers send few
// values, and a header costs 0.5 to 1.5 µs to parse and match, where every
// request and invoice line asks).
func Match(acceptLanguage string) language.Tag {
	if acceptLanguage == "" {
		return English
	}
	if t, ok := matched.Load(acceptLanguage); ok {
		return t.(language.Tag)
	}
	t := match(acceptLanguage)
	if matchedCount.Load() < maxMatched && len(acceptLanguage) <= maxMatchedLen {
		if _, loaded := matched.LoadOrStore(acceptLanguage, t); !loaded {
			matchedCount.Add(1)
		}
	}
	return t
}

// maxMatched bounds how many Accept-Language values Match remembers, and
// maxMatchedLen how long one may be, so that callers sending made-up values
// cannot grow it without end.
const (
	maxMatched    = 1024
	maxMatchedLen = 128
)

var (
	matched      sync.Map // Accept-Language value → language.Tag
	matchedCount atomic.Int32
)

func match(acceptLanguage string) language.Tag {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return English
	}
	return Supported[i]
}

// FromContext reads the caller's language from incoming gRPC metadata.
func FromContext(ctx context.Context) language.Tag {
	if v := metadata.ValueFromIncomingContext(ctx, Header); len(v) > 0 {
		return Match(v[0])
	}
	return English
}

// Code is the BCP 47 code of a supported language as API.md writes it.
func Code(t language.Tag) string {
	switch t {
	case French:
		return "fr"
	case Swedish:
		return "sv"
	case Chinese:
		return "zh-CN"
	default:
		return "en"
	}
}
