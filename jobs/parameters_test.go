package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

// TestNumberParameterRefusesNaN: ParseFloat reads NaN and Inf, which slip
// past every bound (NaN compares false with all of them).
func TestNumberParameterRefusesNaN(t *testing.T) {
	t.Parallel()
	lo, hi := int32(1), int32(10)
	d := db.TemplateVersionParameter{Name: "n", Type: "number", ValidationMin: &lo, ValidationMax: &hi}
	for _, v := range []string{"NaN", "nan", "Inf", "-Infinity", "+inf"} {
		require.Error(t, validateParameter(d, v, "", false), v)
	}
	require.NoError(t, validateParameter(d, "5", "", false))
	require.NoError(t, validateParameter(d, "2.5", "", false))
	require.Error(t, validateParameter(d, "11", "", false))
}
