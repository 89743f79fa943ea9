package kafka

import "github.com/traceweave/traceweave/pkg/models"

// PartitionFor returns the partition kafkaexporter writes a message with key
// to, for a topic of the given number of partitions, so a keyed topic
// (partition_logs_by_trace_id) is searched by reading one partition instead
// of all. hasher is models.HasherMurmur2 or models.HasherSaramaCompat; any
// other value (including "") is the exporter's default, sarama_compat. The
// arithmetic is franz-go's, which the collector uses:
//
//	sarama_compat: p = int32(fnv1a32(key)) % n; if p < 0 { p = -p }   (kgo.SaramaCompatHasher)
//	murmur2:       p = (murmur2(key) & 0x7fffffff) % n                (kgo.KafkaHasher, Java client)
//
// It returns -1 when partitions is not positive.
func PartitionFor(key []byte, partitions int32, hasher string) int32 {
	if partitions <= 0 {
		return -1
	}
	if hasher == models.HasherMurmur2 {
		return int32(murmur2(key)&0x7fffffff) % partitions
	}
	p := int32(fnv1a32(key)) % partitions
	if p < 0 {
		p = -p
	}
	return p
}

// fnv1a32 is FNV-1a, 32 bit (hash/fnv New32a without the allocation).
func fnv1a32(b []byte) uint32 {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for _, c := range b {
		h ^= uint32(c)
		h *= prime32
	}
	return h
}

// murmur2 is the Java Kafka client's murmur2 (seed 0x9747b28c), the hash of
// its default partitioner.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
