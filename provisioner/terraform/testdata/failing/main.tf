# Starts create one resource and then fail; deletes succeed.
data "coder_workspace" "me" {}

terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

resource "terraform_data" "volume" {
  input = "kept"
}

resource "terraform_data" "broken" {
  count      = data.coder_workspace.me.start_count
  depends_on = [terraform_data.volume]
  provisioner "local-exec" {
    command = "echo about to fail; echo disk quota exceeded >&2; exit 3"
  }
}
