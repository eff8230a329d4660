// Package masks reads the update mask of a PATCH (AIP-134, AIP-161) the same
// way in every service: paths in proto names (payment_method) or in the
// lowerCamelCase of the JSON mapping (paymentMethod), nested paths below an
// updatable message field (bill_to.city), "*" for every updatable field, and
// no mask at all for the fields the request populates. The resource's name
// and its output-only fields are ignored wherever they are named; anything
// else is INVALID_FIELD on update_mask, listing what can be updated.
//
// Applying the paths to the stored resource is go.einride.tech/aip's
// fieldmask.Update.
package masks

import (
	"slices"
	"strings"

	"go.einride.tech/aip/fieldmask"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/selfserve/selfserve/services/kit/errs"
)

// Field is the request field every mask error names.
const Field = "update_mask"

// Spec is what an update of one kind of resource may name.
type Spec struct {
	// Updatable are the top-level fields (proto names) an update may change;
	// a path may go below one that is a message.
	Updatable []string
	// Ignored are the paths (proto names, top-level or nested) named
	// without effect: the name and the output-only fields.
	Ignored []string
}

// Paths returns the paths of an update of in, in proto names, checked
// against in's message: with no mask, the updatable fields in populates;
// with one, its paths (empty ones and ignored ones dropped, "*" read as every
// updatable field), which may then be none: an update that changes nothing.
func (s Spec) Paths(mask *fieldmaskpb.FieldMask, in proto.Message) ([]string, error) {
	md := in.ProtoReflect().Descriptor()
	if mask == nil {
		var out []string
		in.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if name := string(fd.Name()); slices.Contains(s.Updatable, name) {
				out = append(out, name)
			}
			return true
		})
		slices.Sort(out)
		return out, nil
	}
	var out []string
	for _, written := range mask.GetPaths() {
		written = strings.TrimSpace(written)
		if written == "" {
			continue
		}
		if written == "*" {
			out = append(out, s.Updatable...)
			continue
		}
		path, ok := protoPath(md, written)
		if !ok {
			return nil, s.refuse(written)
		}
		if s.ignored(path) {
			continue
		}
		top, _, _ := strings.Cut(path, ".")
		if !slices.Contains(s.Updatable, top) {
			return nil, s.refuse(written)
		}
		out = append(out, path)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ignored reports whether path is, or lies below, an ignored path.
func (s Spec) ignored(path string) bool {
	for _, p := range s.Ignored {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

func (s Spec) refuse(written string) error {
	return errs.Field(Field, "%q cannot be updated; updatable: %s", written, strings.Join(s.Updatable, ", "))
}

// protoPath turns a path written in proto names or lowerCamelCase, segment by
// segment, into proto names, following md; ok is false when a segment is no
// field, or goes below a field that is not a single message.
func protoPath(md protoreflect.MessageDescriptor, written string) (string, bool) {
	segments := strings.Split(written, ".")
	out := make([]string, len(segments))
	for i, seg := range segments {
		if md == nil {
			return "", false
		}
		fd := md.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			fd = md.Fields().ByJSONName(seg)
		}
		if fd == nil {
			return "", false
		}
		out[i] = string(fd.Name())
		md = nil
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			md = fd.Message()
		}
	}
	return strings.Join(out, "."), true
}

// Top returns the distinct top-level fields of paths, in order.
func Top(paths []string) []string {
	var out []string
	for _, p := range paths {
		top, _, _ := strings.Cut(p, ".")
		if !slices.Contains(out, top) {
			out = append(out, top)
		}
	}
	return out
}

// Named reports whether paths change field (a top-level proto name), whole
// or in part.
func Named(paths []string, field string) bool {
	return slices.Contains(Top(paths), field)
}

// Apply returns a copy of stored with the values of in at paths (a path
// whose value in is unset clears it). in is not changed. No paths: an
// unchanged copy.
func Apply[M proto.Message](paths []string, stored, in M) M {
	out := proto.Clone(stored).(M)
	if len(paths) == 0 {
		return out
	}
	fieldmask.Update(&fieldmaskpb.FieldMask{Paths: paths}, out, proto.Clone(in))
	return out
}
