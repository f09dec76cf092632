package api_test

import (
	"os"
	"testing"

	"github.com/berth-dev/berth/internal/testinfra"
)

func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }
