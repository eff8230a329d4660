package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPinAgainstARegistry pins a Dockerfile and a compose file against an
// in-memory registry serving a single-platform image and a multi-platform
// index, then checks the pins, that a second run changes nothing, that a
// moved tag moves its pin, and what -check says before and after.
func TestPinAgainstARegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := crane.Push(img, host+"/golang:1.26", crane.Insecure); err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/distroless/static:nonroot", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	imgDigest, _ := img.Digest()
	idxDigest, _ := idx.Digest()

	dir := t.TempDir()
	dockerfile := filepath.Join(dir, "Dockerfile")
	compose := filepath.Join(dir, "docker-compose.yaml")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dockerfile, "FROM --platform=$BUILDPLATFORM "+host+"/golang:1.26 AS build\nRUN true\nFROM build AS again\nFROM ${BASE}\nFROM "+host+"/distroless/static:nonroot\n")
	write(compose, "x: &x\n  image: selfserve:local\nservices:\n  a:\n    image: "+host+"/distroless/static:nonroot\n")
	files := []string{dockerfile, compose}
	resolve := func(ref string) (string, error) { return crane.Digest(ref, crane.Insecure) }

	if err := run(files, []string{"selfserve"}, true, resolve, io.Discard); err == nil || !strings.Contains(err.Error(), "golang:1.26") {
		t.Fatalf("-check before pinning: %v, want the unpinned golang image named", err)
	}
	if err := run(files, []string{"selfserve"}, false, resolve, io.Discard); err != nil {
		t.Fatal(err)
	}
	df, _ := os.ReadFile(dockerfile)
	cf, _ := os.ReadFile(compose)
	for _, want := range []string{
		"FROM --platform=$BUILDPLATFORM " + host + "/golang:1.26@" + imgDigest.String() + " AS build\n",
		"FROM build AS again\nFROM ${BASE}\n",
		"FROM " + host + "/distroless/static:nonroot@" + idxDigest.String() + "\n",
	} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, df)
		}
	}
	if !strings.Contains(string(cf), "image: "+host+"/distroless/static:nonroot@"+idxDigest.String()+"\n") || !strings.Contains(string(cf), "image: selfserve:local\n") {
		t.Errorf("compose file:\n%s", cf)
	}
	if err := run(files, []string{"selfserve"}, true, resolve, io.Discard); err != nil {
		t.Fatalf("-check after pinning: %v", err)
	}

	// The same tags again: nothing changes. A tag that moved: its pin moves.
	if err := run(files, []string{"selfserve"}, false, resolve, io.Discard); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(dockerfile); string(again) != string(df) {
		t.Fatalf("a second run changed the Dockerfile:\n%s", again)
	}
	img2, _ := random.Image(256, 1)
	if err := crane.Push(img2, host+"/golang:1.26", crane.Insecure); err != nil {
		t.Fatal(err)
	}
	if err := run(files, []string{"selfserve"}, false, resolve, io.Discard); err != nil {
		t.Fatal(err)
	}
	d2, _ := img2.Digest()
	if moved, _ := os.ReadFile(dockerfile); !strings.Contains(string(moved), "golang:1.26@"+d2.String()+" AS build") || strings.Contains(string(moved), imgDigest.String()) {
		t.Fatalf("after the tag moved:\n%s", moved)
	}
}

// TestRepositoryFilesNameTheirImages reads this repository's own files: the
// references found are the ones a pin would touch.
func TestRepositoryFilesNameTheirImages(t *testing.T) {
	var all []string
	for _, f := range []string{"../../Dockerfile", "../../docker-compose.yaml"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, references(src, []string{"selfserve"})...)
	}
	joined := strings.Join(all, " ")
	for _, want := range []string{"golang:1.26", "debian:trixie-slim", "gcr.io/distroless/static-debian13:nonroot", "gcr.io/etcd-development/etcd:v3.7.3"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no reference to %s among %v", want, all)
		}
	}
	if strings.Contains(joined, "selfserve:local") || strings.Contains(joined, " build") {
		t.Errorf("a local image or a stage among %v", all)
	}
}
