package page

import (
	"bytes"
	"testing"

	"github.com/selfserve/selfserve/services/kit/errs"
)

func TestTokenRoundTripAndBinding(t *testing.T) {
	bind := Binding("ListUsers", "organizations/contoso", "")
	tok := Token(bind, []byte("contoso\x00bob"))
	got, err := Cursor(tok, bind)
	if err != nil || !bytes.Equal(got, []byte("contoso\x00bob")) {
		t.Fatalf("cursor %q %v", got, err)
	}
	for name, bad := range map[string]string{
		"other request": Token(Binding("ListUsers", "organizations/fabrikam", ""), []byte("x")),
		"not base64":    "%%%",
		"empty cursor":  Token(bind, nil),
		"truncated":     tok[:4],
	} {
		if _, err := Cursor(bad, bind); errs.ReasonOf(err) != "INVALID_PAGE_TOKEN" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if c, err := Cursor("", bind); c != nil || err != nil {
		t.Fatal("empty token is the first page")
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[int32]int{0: 50, 1: 1, 1000: 1000, 5000: 1000} {
		if got, err := Size(in); err != nil || got != want {
			t.Errorf("Size(%d) = %d %v", in, got, err)
		}
	}
	if _, err := Size(-1); err == nil {
		t.Error("negative size accepted")
	}
}
