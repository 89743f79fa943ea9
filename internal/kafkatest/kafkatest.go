// Package kafkatest holds helpers for tests that inject broker faults into
// kfake (franz-go's in-process Kafka), shared by pkg/kafka's unit tests and
// the fault matrix in test/reliability. It is imported by tests only.
package kafkatest

import "github.com/twmb/franz-go/pkg/kmsg"

// FetchesTopic reports whether a Fetch request asks for the topic, named
// (older Fetch versions) or by its ID (Fetch v13+ sends IDs only).
func FetchesTopic(req *kmsg.FetchRequest, topic string, id [16]byte) bool {
	for _, rt := range req.Topics {
		if rt.Topic == topic || rt.TopicID == id {
			return true
		}
	}
	return false
}

// FetchError answers a Fetch request with the Kafka error code on every
// partition it asks for, as a broker refusing the fetch does (offsets -1).
func FetchError(req *kmsg.FetchRequest, code int16) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SetVersion(req.GetVersion())
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
