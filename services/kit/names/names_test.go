package names

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const p = "organizations/{organization}/users/{user}"
	ids, err := Parse("name", "organizations/contoso/users/alice-2", p)
	if err != nil || ids[0] != "contoso" || ids[1] != "alice-2" {
		t.Fatalf("%v %v", ids, err)
	}
	for _, bad := range []string{
		"", "organizations/contoso", "organizations/contoso/users/", "organizations/Contoso/users/a",
		"organizations/contoso/groups/a", "organizations/contoso/users/a/b", "organizations/1x/users/a",
		"organizations/contoso/users/a-", "organizations/contoso/users/" + strings.Repeat("a", 64),
		"organizations/con\x00toso/users/a",
	} {
		if _, err := Parse("name", bad, p); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := Format(p, "contoso", "bob"); got != "organizations/contoso/users/bob" {
		t.Fatal(got)
	}
}
