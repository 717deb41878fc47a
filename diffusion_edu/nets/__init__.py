"""Networks: ``nn.Module`` classes only. A network never imports a sampler or a process."""
