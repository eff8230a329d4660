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

// Match is Parse without the error.
func Match(name, pattern string) ([]string, bool) {
	ps := strings.Split(pattern, "/")
	ns := strings.Split(name, "/")
	if len(ps) != len(ns) {
		return nil, false
	}
	var ids []string
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if !ValidID(ns[i]) {
				return nil, false
			}
			ids = append(ids, ns[i])
		} else if p != ns[i] {
			return nil, false
		}
	}
	return ids, true
}

// Format fills pattern's variables with ids, in order.
func Format(pattern string, ids ...string) string {
	ps := strings.Split(pattern, "/")
	j := 0
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && j < len(ids) {
			ps[i] = ids[j]
			j++
		}
	}
	return strings.Join(ps, "/")
}
