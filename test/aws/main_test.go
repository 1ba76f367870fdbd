package aws_test

import (
	"os"
	"testing"

	"github.com/incidentmanager/incidents/internal/awstest"
)

// TestMain gives the Lambda bootstraps and the emulator this process builds a temporary home,
// removed afterwards (they are some 140 MB together).
func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }
