"""FAQ assistant: a LangChain chain over ChatOpenAI, answering from a small FAQ."""
