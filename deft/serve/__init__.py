"""deft's serving layer: OpenAI-compatible API, engines (vLLM, transformers), Gradio demo."""
