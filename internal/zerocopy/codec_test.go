package zerocopy

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// deterministic is the oracle: what the protobuf library writes for m with
// map keys sorted.
func deterministic(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

// requireSame fails unless the codec's bytes are the oracle's (nil and empty
// are the same encoding).
func requireSame(t testing.TB, want, got []byte) {
	t.Helper()
	if !bytes.Equal(want, got) {
		t.Fatalf("codec wrote %d bytes, protobuf %d:\n got  %x\n want %x", len(got), len(want), head(got), head(want))
	}
}

func head(b []byte) []byte { return b[:min(len(b), 64)] }

func marshal(t testing.TB, r *pluginv2.QueryDataResponse) []byte {
	t.Helper()
	bs, err := MarshalQueryDataResponse(r)
	require.NoError(t, err)
	return bs.Materialize()
}

func TestRegisteredAsTheProtoCodec(t *testing.T) {
	c, ok := encoding.GetCodecV2(grpcproto.Name).(Codec)
	require.True(t, ok, "gRPC's %q codec is %T", grpcproto.Name, encoding.GetCodecV2(grpcproto.Name))
	require.Equal(t, grpcproto.Name, c.Name())
	_, baseIsOurs := c.Base.(Codec)
	require.False(t, baseIsOurs, "the codec must delegate to gRPC's own, not to itself")
}

func TestMarshalMatchesProtobuf(t *testing.T) {
	arrowish := bytes.Repeat([]byte("ARROW1\x00\x00"), 300)
	cases := map[string]*pluginv2.QueryDataResponse{
		"empty":          {},
		"no responses":   {Responses: map[string]*pluginv2.DataResponse{}},
		"nil response":   {Responses: map[string]*pluginv2.DataResponse{"A": nil}},
		"empty response": {Responses: map[string]*pluginv2.DataResponse{"A": {}}},
		"empty key":      {Responses: map[string]*pluginv2.DataResponse{"": {Frames: [][]byte{[]byte("x")}}}},
		"one frame":      {Responses: map[string]*pluginv2.DataResponse{"A": {Frames: [][]byte{arrowish}, Status: 200}}},
		"empty frames": {Responses: map[string]*pluginv2.DataResponse{"A": {
			Frames: [][]byte{nil, {}, arrowish, nil}, Status: 200,
		}}},
		"every field": {Responses: map[string]*pluginv2.DataResponse{"A": {
			Frames:      [][]byte{arrowish, []byte("second"), bytes.Repeat([]byte{0xff}, 70_000)},
			Error:       "tempo: 503 Service Unavailable",
			JsonMeta:    []byte(`{"k":1}`),
			Status:      500,
			ErrorSource: "downstream",
			Format:      pluginv2.DataFrameFormat_JSON,
		}}},
		"many queries, sorted": {Responses: map[string]*pluginv2.DataResponse{
			"C": {Frames: [][]byte{[]byte("c")}, Status: 200},
			"A": {Frames: [][]byte{[]byte("a"), []byte("aa")}, Status: 200},
			"B": {Error: "bad query", Status: 400},
			"Ä": {Frames: [][]byte{arrowish}},
		}},
		"long key": {Responses: map[string]*pluginv2.DataResponse{strings.Repeat("k", 200): {Frames: [][]byte{arrowish}}}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			got, oracle := marshal(t, r), deterministic(t, r)
			requireSame(t, oracle, got)
			var back pluginv2.QueryDataResponse
			require.NoError(t, proto.Unmarshal(got, &back))
			// nil and empty responses decode as empty messages, as they would
			// from the protobuf library's own encoding.
			var want pluginv2.QueryDataResponse
			require.NoError(t, proto.Unmarshal(oracle, &want))
			require.True(t, proto.Equal(&want, &back))
		})
	}
}

// TestUnknownFieldsKept: fields the SDK's generated code does not know (a
// newer peer's) are written where the protobuf library writes them.
func TestUnknownFieldsKept(t *testing.T) {
	dr := &pluginv2.DataResponse{Frames: [][]byte{[]byte("frame")}, Status: 200}
	dr.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7))
	r := &pluginv2.QueryDataResponse{Responses: map[string]*pluginv2.DataResponse{"A": dr}}
	r.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 42, protowire.BytesType), "top"))
	requireSame(t, deterministic(t, r), marshal(t, r))
}

// TestInvalidUTF8Refused: like the protobuf library, the codec refuses a
// string that is not UTF-8 (a map key here; other fields are the library's).
func TestInvalidUTF8Refused(t *testing.T) {
	for _, r := range []*pluginv2.QueryDataResponse{
		{Responses: map[string]*pluginv2.DataResponse{"\xcf": {Frames: [][]byte{[]byte("f")}}}},
		{Responses: map[string]*pluginv2.DataResponse{"A": {Error: "\xcf"}}},
	} {
		_, wantErr := proto.Marshal(r)
		require.Error(t, wantErr)
		_, err := MarshalQueryDataResponse(r)
		require.Error(t, err)
	}
}

// TestFramesAreNotCopied: each non-empty frame is a piece of the result that
// shares the frame's memory, which is the point of the package.
func TestFramesAreNotCopied(t *testing.T) {
	frames := [][]byte{bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 5000)}
	r := &pluginv2.QueryDataResponse{Responses: map[string]*pluginv2.DataResponse{
		"A": {Frames: frames[:1]}, "B": {Frames: frames[1:], Status: 200},
	}}
	bs, err := MarshalQueryDataResponse(r)
	require.NoError(t, err)
	shared := 0
	envelope := 0
	for _, b := range bs {
		d := b.ReadOnlyData()
		for _, f := range frames {
			if len(d) == len(f) && unsafe.SliceData(d) == unsafe.SliceData(f) {
				shared++
			}
		}
		if len(d) < 100 {
			envelope += len(d)
		}
	}
	require.Equal(t, len(frames), shared)
	require.Equal(t, bs.Len(), envelope+1000+5000, "everything else is envelope")
}

// TestOtherMessagesGoToBase: requests and the other services' messages are
// encoded and decoded by gRPC's own codec.
func TestOtherMessagesGoToBase(t *testing.T) {
	c := encoding.GetCodecV2(grpcproto.Name)
	req := &pluginv2.QueryDataRequest{
		PluginContext: &pluginv2.PluginContext{OrgId: 1, PluginId: "traceweave-timeline-datasource"},
		Queries:       []*pluginv2.DataQuery{{RefId: "A", Json: []byte(`{"traceId":"abc"}`)}},
	}
	bs, err := c.Marshal(req)
	require.NoError(t, err)
	var back pluginv2.QueryDataRequest
	require.NoError(t, c.Unmarshal(bs, &back))
	require.True(t, proto.Equal(req, &back))

	resp := &pluginv2.QueryDataResponse{Responses: map[string]*pluginv2.DataResponse{"A": {Frames: [][]byte{[]byte("f")}}}}
	bs, err = c.Marshal(resp)
	require.NoError(t, err)
	var backResp pluginv2.QueryDataResponse
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bs.Materialize())}, &backResp))
	require.True(t, proto.Equal(resp, &backResp))

	_, err = c.Marshal("not a message")
	require.Error(t, err)
}

// FuzzMarshalQueryDataResponse compares the codec with the protobuf library on
// responses of random shape: keys, frame counts and sizes (including empty
// frames and lengths that need multi-byte varints), every scalar field.
func FuzzMarshalQueryDataResponse(f *testing.F) {
	f.Add(uint64(1), uint8(1), "A", []byte("frame"), "")
	f.Add(uint64(7), uint8(4), "", []byte{}, "tempo: 503")
	f.Add(uint64(99), uint8(9), "ref\x00id", bytes.Repeat([]byte{0}, 300), "é")
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, key string, frame []byte, errText string) {
		rng := rand.New(rand.NewPCG(seed, uint64(n)))
		r := &pluginv2.QueryDataResponse{Responses: map[string]*pluginv2.DataResponse{}}
		for i := 0; i < int(n%6); i++ {
			k := key
			if i > 0 {
				k = key + string(rune('A'+rng.IntN(26)))
			}
			if rng.IntN(8) == 0 {
				r.Responses[k] = nil
				continue
			}
			dr := &pluginv2.DataResponse{
				Status:      int32(rng.IntN(600)),
				ErrorSource: []string{"", "plugin", "downstream"}[rng.IntN(3)],
				Format:      pluginv2.DataFrameFormat(rng.IntN(2)),
			}
			if rng.IntN(2) == 0 {
				dr.Error = errText
			}
			if rng.IntN(3) == 0 {
				dr.JsonMeta = frame
			}
			for j := rng.IntN(5); j > 0; j-- {
				switch rng.IntN(4) {
				case 0:
					dr.Frames = append(dr.Frames, nil)
				case 1:
					dr.Frames = append(dr.Frames, frame)
				case 2:
					dr.Frames = append(dr.Frames, bytes.Repeat([]byte{byte(j)}, rng.IntN(20_000)))
				default:
					dr.Frames = append(dr.Frames, frame[:len(frame)/2])
				}
			}
			r.Responses[k] = dr
		}
		want, wantErr := proto.MarshalOptions{Deterministic: true}.Marshal(r)
		got, err := MarshalQueryDataResponse(r)
		if wantErr != nil {
			// invalid UTF-8 in a string field or map key
			require.Error(t, err, "protobuf refused it: %v", wantErr)
			return
		}
		require.NoError(t, err)
		requireSame(t, want, got.Materialize())
	})
}

// BenchmarkMarshalAnswer compares the codec with gRPC's own on an answer the
// size of a 100k-line trace's (three frames, 85 MB): B/op is what each
// allocates to put it on the wire.
func BenchmarkMarshalAnswer(b *testing.B) {
	r := &pluginv2.QueryDataResponse{Responses: map[string]*pluginv2.DataResponse{"A": {
		Frames: [][]byte{make([]byte, 24<<20), make([]byte, 37<<20), make([]byte, 24<<20)}, Status: 200,
	}}}
	c := encoding.GetCodecV2(grpcproto.Name).(Codec)
	for _, cc := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"grpc", c.Base}, {"zerocopy", c}} {
		b.Run(cc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(85 << 20)
			for b.Loop() {
				bs, err := cc.codec.Marshal(r)
				if err != nil {
					b.Fatal(err)
				}
				bs.Free()
			}
		})
	}
}

// TestOnEncodedCountsAnswersWithFrames: the hook hears of every
// QueryDataResponse the codec writes, with the number of its answers that
// carry frames (an error answer has none, and took no reservation), and of
// no other message.
func TestOnEncodedCountsAnswersWithFrames(t *testing.T) {
	var calls []int
	OnEncoded(func(n int) { calls = append(calls, n) })
	t.Cleanup(func() { onEncoded.Store(nil) })
	c := encoding.GetCodecV2(grpcproto.Name)
	_, err := c.Marshal(&pluginv2.QueryDataResponse{Responses: map[string]*pluginv2.DataResponse{
		"A": {Frames: [][]byte{[]byte("f1"), []byte("f2")}},
		"B": {Error: "bad trace ID", Status: 400},
		"C": {Frames: [][]byte{[]byte("f3")}},
	}})
	require.NoError(t, err)
	_, err = c.Marshal(&pluginv2.QueryDataRequest{})
	require.NoError(t, err)
	require.Equal(t, []int{2}, calls)
}
