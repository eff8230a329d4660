// Package names parses AIP-122 resource names against patterns such as
// "organizations/{organization}/users/{user}" and checks resource ids.
package names

import (
	"strings"

	"github.com/selfserve/selfserve/services/kit/errs"
)

// ValidID tells whether id is an AIP-122 resource id: 1 to 63 characters of
// lowercase letters, digits and hyphens, starting with a letter and not ending
// with a hyphen.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] < 'a' || id[0] > 'z' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Parse matches name against pattern, whose variable segments are written
// {like_this}, and returns the ids in order. field names the request field for
// the error, an INVALID_RESOURCE_NAME that says "is required" when the name
// is missing and what it must look like otherwise.
func Parse(field, name, pattern string) ([]string, error) {
	if name == "" && pattern != "" {
		return nil, errs.New(errs.InvalidName, "%s is required", field).With("field", field)
	}
	ids, ok := Match(name, pattern)
	if !ok {
		return nil, errs.New(errs.InvalidName, "%s must look like %s", field, pattern).With("field", field)
	}
	return ids, nil
}

// Match is Parse without the error. It walks name and pattern a segment at
// a time (every request parses names: no split of either).
func Match(name, pattern string) ([]string, bool) {
	var ids []string
	for {
		p, prest, pmore := strings.Cut(pattern, "/")
		n, nrest, nmore := strings.Cut(name, "/")
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if !ValidID(n) {
				return nil, false
			}
			if ids == nil {
				ids = make([]string, 0, strings.Count(pattern, "{")+1)
			}
			ids = append(ids, n)
		} else if p != n {
			return nil, false
		}
		if pmore != nmore {
			return nil, false // one has more segments than the other
		}
		if !pmore {
			return ids, true
		}
		pattern, name = prest, nrest
	}
}

// Format fills pattern's variables with ids, in order (a variable beyond
// the ids stays as it is written).
func Format(pattern string, ids ...string) string {
	size := len(pattern)
	for _, id := range ids {
		size += len(id)
	}
	var b strings.Builder
	b.Grow(size)
	j := 0
	for {
		seg, rest, more := strings.Cut(pattern, "/")
		if strings.HasPrefix(seg, "{") && j < len(ids) {
			b.WriteString(ids[j])
			j++
		} else {
			b.WriteString(seg)
		}
		if !more {
			return b.String()
		}
		b.WriteByte('/')
		pattern = rest
	}
}
