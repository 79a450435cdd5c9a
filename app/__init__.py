"""The Streamlit control room: pages, components, managers and the composition root."""
