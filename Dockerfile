FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/prod.txt
COPY . .
# The gettext catalogs' .mo files are built, never committed (kassa/i18n_compile.py).
RUN python -m kassa.i18n_compile --force
RUN useradd --create-home kassa && chown -R kassa /app
USER kassa
EXPOSE 8000
CMD ["bin/web"]
