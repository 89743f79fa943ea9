package kafka

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/pkg/models"
)

// TestPartitionForMatchesFranzGo checks PartitionFor against franz-go's own
// partitioners, which kafkaexporter uses, over many keys and partition counts.
func TestPartitionForMatchesFranzGo(t *testing.T) {
	partitioners := map[string]kgo.Partitioner{
		models.HasherSaramaCompat: kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a)),
		models.HasherMurmur2:      kgo.StickyKeyPartitioner(nil), // nil: kgo.KafkaHasher(murmur2)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := [][]byte{[]byte(testTrace), []byte(otherTrace), {}, []byte("a"), []byte("ab"), []byte("abc"), []byte("abcd"), []byte("abcde")}
	for i := 0; i < 3000; i++ {
		var id [16]byte
		for j := range id {
			id[j] = byte(rng.UintN(256))
		}
		keys = append(keys, []byte(hex.EncodeToString(id[:])))
	}
	for hasher, p := range partitioners {
		tp := p.ForTopic("otlp_logs")
		for _, n := range []int{1, 2, 3, 5, 7, 12, 16, 31, 64, 100, 1000} {
			for _, k := range keys {
				want := tp.Partition(&kgo.Record{Key: k}, n)
				got := PartitionFor(k, int32(n), hasher)
				require.Equal(t, int32(want), got, fmt.Sprintf("hasher %s key %q n %d", hasher, k, n))
			}
		}
	}
}

func TestPartitionForDefaultsAndInvalid(t *testing.T) {
	k := []byte(testTrace)
	assert.Equal(t, PartitionFor(k, 16, models.HasherSaramaCompat), PartitionFor(k, 16, ""), "empty hasher is the exporter default")
	assert.Equal(t, int32(-1), PartitionFor(k, 0, models.HasherMurmur2))
	assert.Equal(t, int32(-1), PartitionFor(k, -3, models.HasherSaramaCompat))
	// The two hashers disagree somewhere, or a test mixing them up could pass.
	differ := false
	for n := int32(2); n < 40 && !differ; n++ {
		differ = PartitionFor(k, n, models.HasherSaramaCompat) != PartitionFor(k, n, models.HasherMurmur2)
	}
	assert.True(t, differ)
}
