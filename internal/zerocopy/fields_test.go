package zerocopy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// describeField renders a field as the lists in fields.go do.
func describeField(fd protoreflect.FieldDescriptor) string {
	typ := func(fd protoreflect.FieldDescriptor) string {
		switch fd.Kind() {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			return string(fd.Message().FullName())
		case protoreflect.EnumKind:
			return "enum " + string(fd.Enum().FullName())
		}
		return fd.Kind().String()
	}
	t := typ(fd)
	if fd.IsMap() {
		t = fmt.Sprintf("map<%s, %s>", typ(fd.MapKey()), typ(fd.MapValue()))
	}
	return fmt.Sprintf("%d %s %s %s", fd.Number(), fd.Name(), fd.Cardinality(), t)
}

func describeFields(md protoreflect.MessageDescriptor) []string {
	var out []string
	for i := range md.Fields().Len() {
		out = append(out, describeField(md.Fields().Get(i)))
	}
	slices.Sort(out)
	return out
}

// TestCodecKnowsEveryField fails when the SDK's QueryDataResponse or
// DataResponse has a field the codec was not written for: a field added to
// QueryDataResponse would be dropped from every answer, and one added to
// DataResponse below frames' number would be written out of order.
func TestCodecKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		msg   proto.Message
		known []string
	}{
		{&pluginv2.QueryDataResponse{}, queryDataResponseFields},
		{&pluginv2.DataResponse{}, dataResponseFields},
	} {
		md := c.msg.ProtoReflect().Descriptor()
		got, want := describeFields(md), slices.Sorted(slices.Values(c.known))
		var added, gone []string
		for _, f := range got {
			if !slices.Contains(want, f) {
				added = append(added, f)
			}
		}
		for _, f := range want {
			if !slices.Contains(got, f) {
				gone = append(gone, f)
			}
		}
		if len(added)+len(gone) > 0 {
			t.Errorf("%s changed in the SDK: fields the codec does not handle %q, fields it handles that are gone %q.\n"+
				"MarshalQueryDataResponse writes this message by hand: teach it the new fields, then update the list in fields.go.",
				md.FullName(), added, gone)
		}
	}
	// The frames are written first: deterministic protobuf orders fields by
	// number, so frames must stay DataResponse's lowest.
	fields := (&pluginv2.DataResponse{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		require.GreaterOrEqual(t, fields.Get(i).Number(), fieldFrames, "DataResponse.%s is numbered below frames", fields.Get(i).Name())
	}
	require.Equal(t, fieldFrames, fields.ByName("frames").Number())
	require.Equal(t, fieldResponses, (&pluginv2.QueryDataResponse{}).ProtoReflect().Descriptor().Fields().ByName("responses").Number())
}

// fill sets every field of m, found through its descriptor, to a value that
// is not the default, so a field the codec does not write shows as a
// difference from the protobuf library's encoding, whatever the SDK adds.
func fill(m protoreflect.Message, seed int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for k := range 2 {
				key := scalar(fd.MapKey(), seed+k).MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					v := mp.NewValue()
					fill(v.Message(), seed+k+1)
					mp.Set(key, v)
				} else {
					mp.Set(key, scalar(fd.MapValue(), seed+k))
				}
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for k := range 3 {
				if fd.Kind() == protoreflect.MessageKind {
					v := l.NewElement()
					fill(v.Message(), seed+k+1)
					l.Append(v)
				} else {
					l.Append(scalar(fd, seed+k))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			fill(m.Mutable(fd).Message(), seed+1)
		default:
			m.Set(fd, scalar(fd, seed))
		}
	}
}

// scalar is a non-default value of a scalar field's kind.
func scalar(fd protoreflect.FieldDescriptor, seed int) protoreflect.Value {
	n := seed + int(fd.Number()) + 1
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(vals.Len() - 1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(n))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) + 0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) + 0.5)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s %d", fd.Name(), n))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(strings.Repeat(string(fd.Name()), n)))
	}
	panic(fmt.Sprintf("no value for %s", describeField(fd)))
}

// TestEveryFieldSurvives fills every field the SDK's QueryDataResponse and
// its DataResponses have (by reflection, so fields a newer SDK adds are
// filled too) and requires the codec's bytes to be the protobuf library's:
// a field the codec drops makes them differ.
func TestEveryFieldSurvives(t *testing.T) {
	r := &pluginv2.QueryDataResponse{}
	fill(r.ProtoReflect(), 0)
	require.Len(t, r.Responses, 2)
	for k, dr := range r.Responses {
		require.NotEmpty(t, dr.Frames, k)
		require.NotEmpty(t, dr.Error, k)
	}
	requireSame(t, deterministic(t, r), marshal(t, r))
}
