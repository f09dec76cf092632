# Starts create one resource, then run a long local-exec.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "sleep" {
  type    = number
  default = 600
}

data "coder_workspace" "me" {}

resource "terraform_data" "first" {
  input = "created before the slow step"
}

resource "terraform_data" "slow" {
  count      = data.coder_workspace.me.start_count
  depends_on = [terraform_data.first]
  provisioner "local-exec" {
    command = "echo slow step started; sleep ${var.sleep}; echo slow step done"
  }
}
