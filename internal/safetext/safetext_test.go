package safetext

import (
	"errors"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestClip(t *testing.T) {
	require.Equal(t, "bad query: line 1", Clip([]byte("bad query:\nline 1\x00\xff\n"), 100))
	require.Equal(t, "abc…", Clip([]byte("abcdef"), 3))
	require.True(t, utf8.ValidString(Clip([]byte{0xe2, 0x82}, 10)))
}

var errBase = errors.New("base")

func TestRedactor(t *testing.T) {
	r := NewRedactor([]string{"hunter2", ""}, [2]string{"alice", "hunter2"}, [2]string{"bob", ""})
	require.Equal(t, "pw [redacted] auth Basic [redacted]", r.Text("pw hunter2 auth Basic YWxpY2U6aHVudGVyMg=="))
	err := r.Error(fmt.Errorf("upstream said hunter2: %w", errBase))
	require.Equal(t, "upstream said [redacted]: base", err.Error())
	require.ErrorIs(t, err, errBase)
	plain := errors.New("nothing secret")
	require.Same(t, plain, r.Error(plain))
	require.Nil(t, r.Error(nil))
	require.Equal(t, "x\uFFFDy", NewRedactor(nil).Text("x\xffy"))
}
