// Package zerocopy makes the plugin process send a query's frames to Grafana
// without copying them into one more buffer.
//
// Why: the SDK encodes every frame of a QueryData answer as Arrow, and gRPC's
// protobuf codec then copies all of those bytes into a single new message
// buffer before writing it to the connection. For a 100k-line trace the
// answer is ~85 MB, so that copy costs ~85 MB of freshly touched memory at the
// moment the process is at its peak, and profiles of the plugin put over a
// quarter of its CPU in it (BENCHMARKS.md). The frames are opaque `bytes`
// fields of pluginv2.DataResponse, so the message can be written as the
// protobuf envelope (field tags and lengths, a few bytes) interleaved with
// the frames' own byte slices: gRPC's transport reads a mem.BufferSlice piece
// by piece into its HTTP/2 frames, so nothing large is allocated or copied
// on the way out.
//
// How: gRPC looks codecs up by name when a call arrives, and
// encoding.RegisterCodecV2 lets a program replace the "proto" codec at
// initialisation (documented: the last registration wins). Importing this
// package registers a codec that writes *pluginv2.QueryDataResponse itself
// and hands every other message, and all unmarshalling, to the codec gRPC
// registered before it. The bytes it writes are exactly those of
// proto.MarshalOptions{Deterministic: true}: same field order, map entries
// sorted by key (tested, and fuzzed, against that oracle), so Grafana
// decodes the same message it always did.
package zerocopy

import (
	"fmt"
	"slices"
	"sync/atomic"
	"unicode/utf8"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func init() {
	base := encoding.GetCodecV2(grpcproto.Name)
	if base == nil {
		// grpc/encoding/proto registers itself in its init, which runs
		// before this one (it is imported above); nil would mean gRPC
		// changed how codecs are registered, and the plugin must not start
		// without a codec for its own protocol.
		panic("zerocopy: gRPC registered no proto codec")
	}
	encoding.RegisterCodecV2(Codec{Base: base})
}

// Codec is a gRPC CodecV2 that marshals *pluginv2.QueryDataResponse without
// copying its frames and leaves everything else to Base.
type Codec struct {
	Base encoding.CodecV2
}

// Name is the name of the codec it replaces ("proto").
func (c Codec) Name() string { return c.Base.Name() }

// Unmarshal is Base's: what the plugin receives is small.
func (c Codec) Unmarshal(data mem.BufferSlice, v any) error { return c.Base.Unmarshal(data, v) }

// Marshal writes a QueryDataResponse as envelope pieces and the frames' own
// slices; any other message goes to Base.
func (c Codec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*pluginv2.QueryDataResponse)
	if !ok || r == nil {
		return c.Base.Marshal(v)
	}
	if hook := onEncoded.Load(); hook != nil {
		n := 0
		for _, dr := range r.Responses {
			if len(dr.GetFrames()) > 0 {
				n++
			}
		}
		(*hook)(n)
	}
	return MarshalQueryDataResponse(r)
}

var onEncoded atomic.Pointer[func(answers int)]

// OnEncoded registers f to be called with the number of answers with frames
// in each QueryDataResponse about to be written. gRPC marshals a response
// only after the SDK has encoded all of its frames as Arrow, so this is the
// moment the plugin knows that encoding, the largest allocation of an
// answer, is over (internal/admission holds its reservations until then).
func OnEncoded(f func(answers int)) { onEncoded.Store(&f) }

// Field numbers of the messages written here (backend.proto in the SDK).
const (
	fieldResponses protowire.Number = 1 // QueryDataResponse.responses (map<string, DataResponse>)
	fieldMapKey    protowire.Number = 1 // a map entry's key
	fieldMapValue  protowire.Number = 2 // a map entry's value
	fieldFrames    protowire.Number = 1 // DataResponse.frames (repeated bytes)
)

// MarshalQueryDataResponse encodes r as proto.MarshalOptions{Deterministic:
// true} would, returning the frames' slices themselves as pieces of the
// result instead of copies. The caller must not change the frames until the
// result has been written.
func MarshalQueryDataResponse(r *pluginv2.QueryDataResponse) (mem.BufferSlice, error) {
	keys := make([]string, 0, len(r.Responses))
	for k := range r.Responses {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var out mem.BufferSlice
	// env collects envelope bytes until a frame is appended as its own piece.
	var env []byte
	flush := func() {
		if len(env) > 0 {
			out = append(out, mem.SliceBuffer(env))
			env = nil
		}
	}
	for _, k := range keys {
		if !utf8.ValidString(k) {
			// The protobuf library refuses this too; Grafana's refIDs arrive
			// as protobuf strings, so it never happens in practice.
			return nil, fmt.Errorf("query refId %q is not valid UTF-8", k)
		}
		dr := r.Responses[k]
		rest, err := marshalWithoutFrames(dr)
		if err != nil {
			return nil, fmt.Errorf("marshal the response of query %q: %w", k, err)
		}
		valueLen := len(rest)
		for _, f := range dr.GetFrames() {
			valueLen += protowire.SizeTag(fieldFrames) + protowire.SizeBytes(len(f))
		}
		entryLen := protowire.SizeTag(fieldMapKey) + protowire.SizeBytes(len(k)) +
			protowire.SizeTag(fieldMapValue) + protowire.SizeBytes(valueLen)

		env = protowire.AppendTag(env, fieldResponses, protowire.BytesType)
		env = protowire.AppendVarint(env, uint64(entryLen))
		env = protowire.AppendTag(env, fieldMapKey, protowire.BytesType)
		env = protowire.AppendString(env, k)
		env = protowire.AppendTag(env, fieldMapValue, protowire.BytesType)
		env = protowire.AppendVarint(env, uint64(valueLen))
		for _, f := range dr.GetFrames() {
			env = protowire.AppendTag(env, fieldFrames, protowire.BytesType)
			env = protowire.AppendVarint(env, uint64(len(f)))
			if len(f) == 0 {
				continue
			}
			flush()
			out = append(out, mem.SliceBuffer(f))
		}
		env = append(env, rest...)
	}
	env = append(env, r.ProtoReflect().GetUnknown()...)
	flush()
	return out, nil
}

// marshalWithoutFrames encodes every field of dr except frames (field 1,
// which is written first and is therefore written by the caller), plus its
// unknown fields, in the deterministic encoding. It copies the fields by
// reflection rather than by name so that a field a later SDK adds to
// DataResponse is still sent.
func marshalWithoutFrames(dr *pluginv2.DataResponse) ([]byte, error) {
	if dr == nil {
		return nil, nil
	}
	src := dr.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Number() != fieldFrames {
			dst.Set(fd, v)
		}
		return true
	})
	dst.SetUnknown(src.GetUnknown())
	return proto.MarshalOptions{Deterministic: true}.Marshal(dst.Interface())
}
