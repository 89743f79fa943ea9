package zerocopy

// The fields of the SDK's messages that this codec was written for
// (backend.proto of grafana-plugin-sdk-go v0.298.0), each as
// "number name cardinality type". MarshalQueryDataResponse writes
// QueryDataResponse by hand: a field the SDK adds to it would be dropped
// from every answer without an error. TestCodecKnowsEveryField compares
// these lists with the messages' descriptors, so an SDK upgrade that adds,
// renumbers or retypes a field fails the tests until the codec is reviewed
// and the list follows.
var (
	// queryDataResponseFields are written by MarshalQueryDataResponse
	// itself; it writes no other field of QueryDataResponse.
	queryDataResponseFields = []string{
		"1 responses repeated map<string, pluginv2.DataResponse>",
	}
	// dataResponseFields: frames is written by MarshalQueryDataResponse
	// (first, as the lowest field number); marshalWithoutFrames copies the
	// others by reflection and writes them after it.
	dataResponseFields = []string{
		"1 frames repeated bytes",
		"2 error optional string",
		"3 jsonMeta optional bytes",
		"4 status optional int32",
		"5 errorSource optional string",
		"6 format optional enum pluginv2.DataFrameFormat",
	}
)
