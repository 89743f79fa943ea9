package memlimit

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "314572800": 314572800, "300MiB": 300 << 20, " 1GiB ": 1 << 30, "512KiB": 512 << 10,
		"7B": 7, "2TiB": 2 << 40, "off": math.MaxInt64,
	} {
		got, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "300MB", "300 MiB", "-1", "1.5GiB", "lots", "9999999999TiB", "MiB"} {
		_, err := Parse(in)
		assert.Error(t, err, in)
	}
}

func TestApply(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	var set []int64
	setter := func(n int64) int64 { set = append(set, n); return 0 }

	msg, err := Apply(env(map[string]string{EnvVar: "300MiB"}), setter)
	require.NoError(t, err)
	assert.Equal(t, []int64{300 << 20}, set)
	assert.Contains(t, msg, "soft limit set to 300MiB (314572800 bytes) from GF_PLUGIN_MEMORY_LIMIT")

	set = nil
	msg, err = Apply(env(map[string]string{EnvVar: "300MiB", "GOMEMLIMIT": "1GiB"}), setter)
	require.NoError(t, err)
	assert.Nil(t, set, "GOMEMLIMIT, already applied by the runtime, wins")
	assert.Contains(t, msg, "GOMEMLIMIT=1GiB is set and wins")

	msg, err = Apply(env(nil), setter)
	require.NoError(t, err)
	assert.Empty(t, msg)
	assert.Nil(t, set)

	_, err = Apply(env(map[string]string{EnvVar: "300MB"}), setter)
	require.ErrorContains(t, err, "GF_PLUGIN_MEMORY_LIMIT")
	assert.Nil(t, set, "an unreadable value sets nothing")
}
