# A workspace template in the shape Coder users write, using only the coder
# provider, Terraform's built-in terraform_data resource and a local module.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "region" {
  type        = string
  description = "Where workspaces run."
  default     = "eu-west"
}

variable "replicas" {
  type    = number
  default = 1
}

variable "api_key" {
  type      = string
  sensitive = true
}

data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "cpu" {
  name         = "cpu"
  display_name = "CPU cores"
  description  = "Cores of the workspace."
  type         = "number"
  default      = 2
  mutable      = true
  order        = 1
  validation {
    min = 1
    max = 8
  }
}

data "coder_parameter" "image" {
  name         = "image"
  display_name = "Image"
  type         = "string"
  default      = "ubuntu"
  mutable      = false
  order        = 2
  option {
    name  = "Ubuntu"
    value = "ubuntu"
  }
  option {
    name  = "Debian"
    value = "debian"
  }
}

# Presets choose parameter values at workspace creation (coder create --preset).
data "coder_workspace_preset" "big" {
  name        = "Big"
  description = "Eight cores on Debian"
  icon        = "/icon/big.svg"
  parameters = {
    cpu   = "8"
    image = "debian"
  }
  prebuilds {
    instances = 2
  }
}

data "coder_workspace_preset" "small" {
  name    = "Small"
  default = true
  parameters = {
    cpu = "1"
  }
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
  dir  = "/home/coder"
  env = {
    REGION = var.region
  }
  startup_script = "echo starting"
}

module "tools" {
  source   = "./modules/tools"
  agent_id = coder_agent.main.id
}

resource "coder_app" "code" {
  agent_id     = coder_agent.main.id
  slug         = "code-server"
  display_name = "code-server"
  url          = "http://localhost:8080"
  share        = "owner"
  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = 6
  }
}

# The "machine": exists only while the workspace is started.
resource "terraform_data" "dev" {
  count = data.coder_workspace.me.start_count
  input = {
    token = coder_agent.main.token
    cpu   = data.coder_parameter.cpu.value
    image = data.coder_parameter.image.value
    owner = data.coder_workspace_owner.me.name
    name  = data.coder_workspace.me.name
  }
}

# The "home volume": survives stops.
resource "terraform_data" "home" {
  input = "home-${data.coder_workspace.me.id}"
}

resource "coder_metadata" "home" {
  resource_id = terraform_data.home.id
  icon        = "/icon/folder.svg"
  item {
    key   = "cpu"
    value = data.coder_parameter.cpu.value
  }
  item {
    key   = "owner"
    value = data.coder_workspace_owner.me.name
  }
  item {
    key       = "api_key"
    value     = var.api_key
    sensitive = true
  }
}
