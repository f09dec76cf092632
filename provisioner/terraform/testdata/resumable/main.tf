# A start creates two resources, then waits at a gate (a file the test
# creates), then creates two more: a worker lost at the gate leaves some
# resources created and some pending.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "gate" {
  type        = string
  description = "The slow step waits until this file exists."
}

data "coder_workspace" "me" {}

resource "terraform_data" "one" {
  input = "created first"
}

resource "terraform_data" "two" {
  input      = "created second"
  depends_on = [terraform_data.one]
}

resource "terraform_data" "gated" {
  count      = data.coder_workspace.me.start_count
  depends_on = [terraform_data.two]
  provisioner "local-exec" {
    command = "echo gated step started; while [ ! -e '${var.gate}' ]; do sleep 0.1; done; echo gated step done"
  }
}

resource "terraform_data" "three" {
  count      = data.coder_workspace.me.start_count
  input      = "created after the gate"
  depends_on = [terraform_data.gated]
}

resource "terraform_data" "four" {
  count      = data.coder_workspace.me.start_count
  input      = "created after the gate too"
  depends_on = [terraform_data.gated]
}
